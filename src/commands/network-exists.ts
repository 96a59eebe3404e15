import { defineCommand } from '../cli/command.js';
import { findNetwork, listNetworks } from '../engine/networks.js';

export default defineCommand<{ name: string }>({
  describe: 'Check if a network exists',
  positionals: [{ name: 'name', describe: 'network name or ID', required: true }],
  async run(args, ctx) {
    return { exitCode: findNetwork(listNetworks((await ctx.engine()).store()), args.name) ? 0 : 1 };
  },
});
