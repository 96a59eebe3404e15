import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';
import { removeNetwork } from '../engine/networks.js';

export default defineCommand<{ names: string[]; force: boolean; time?: number }>({
  describe: 'Remove one or more networks',
  positionals: [{ name: 'names', describe: 'networks to remove', variadic: true }],
  flags: {
    force: { type: 'boolean', alias: 'f', describe: 'remove any containers using the network' },
    time: { type: 'number', alias: 't', describe: 'Seconds to wait for running containers to stop before killing the container', placeholder: 'uint' },
  },
  async run(args, ctx) {
    const names = args.names ?? [];
    if (names.length === 0) throw new TspodError('usage', 'requires at least 1 arg(s), only received 0');
    const engine = await ctx.engine();
    const removeContainer = (id: string) => engine.removeContainer(id, { force: true, volumes: false, time: args.time });
    return reportEach(ctx, names, (n) => removeNetwork(engine.store(), engine.containers(), n, { force: Boolean(args.force), removeContainer }));
  },
});
