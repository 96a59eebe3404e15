import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';

// Run by the monitor when a container exits (its exit command); also usable by hand.
export default defineCommand<{ containers: string[]; rm: boolean }>({
  describe: 'Clean up network and mountpoints of one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to clean up', required: true, variadic: true }],
  flags: { rm: { type: 'boolean', describe: 'After cleanup, remove the container entirely' } },
  async run(args, ctx) {
    const engine = await ctx.engine();
    return reportEach(ctx, args.containers, async (c) => {
      await engine.cleanupContainer(c, args.rm);
      return c;
    });
  },
});
