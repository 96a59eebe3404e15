import { defineCommand } from '../cli/command.js';
import { pruneNetworks } from '../engine/networks.js';

export default defineCommand<{ force: boolean; filter?: string[] }>({
  describe: 'Remove all networks not used by any container',
  flags: {
    force: { type: 'boolean', alias: 'f', describe: 'do not prompt for confirmation' },
    filter: { type: 'array', describe: 'Provide filter values (label=)', placeholder: 'strings' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const removed = await pruneNetworks(engine.store(), engine.containers(), (args.filter ?? []).map(String));
    return { stdout: removed.map((n) => `${n}\n`).join('') };
  },
});
