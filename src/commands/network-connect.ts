import { defineCommand } from '../cli/command.js';
import { lookupContainer } from '../engine/containers.js';
import { connectNetwork } from '../engine/networks.js';

export default defineCommand<{ network: string; container: string; alias?: string[] }>({
  describe: 'Add a (stopped) container to a network',
  positionals: [
    { name: 'network', describe: 'network', required: true },
    { name: 'container', describe: 'container', required: true },
  ],
  flags: { alias: { type: 'array', describe: 'network scoped alias for container', placeholder: 'strings' } },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const c = lookupContainer(engine.containers(), args.container);
    await connectNetwork(engine.store(), engine.containers(), args.network, c, (args.alias ?? []).map(String));
    return {};
  },
});
