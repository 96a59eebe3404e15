import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';

export default defineCommand<{ containers: string[]; time?: number }>({
  describe: 'Restart one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to restart', required: true, variadic: true }],
  flags: { time: { type: 'number', alias: 't', describe: 'Seconds to wait for stop before killing the container', placeholder: 'int' } },
  async run(args, ctx) {
    const engine = await ctx.engine();
    return reportEach(ctx, args.containers, async (c) => {
      await engine.stopContainer(c, args.time);
      const rec = await engine.lookupContainer(c);
      await engine.cleanupContainer(rec.id, false);
      await engine.startContainer(rec.id);
      return c;
    });
  },
});
