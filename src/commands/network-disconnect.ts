import { defineCommand } from '../cli/command.js';
import { lookupContainer } from '../engine/containers.js';
import { disconnectNetwork } from '../engine/networks.js';

export default defineCommand<{ network: string; container: string; force: boolean }>({
  describe: 'Disconnect a (stopped) container from a network',
  positionals: [
    { name: 'network', describe: 'network', required: true },
    { name: 'container', describe: 'container', required: true },
  ],
  flags: { force: { type: 'boolean', alias: 'f', describe: 'force removal of container from network' } },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const c = lookupContainer(engine.containers(), args.container);
    await disconnectNetwork(engine.store(), engine.containers(), args.network, c);
    return {};
  },
});
