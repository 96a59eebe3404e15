import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';

export default defineCommand<{ containers: string[] }>({
  describe: 'Block on one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to wait for', required: true, variadic: true }],
  flags: { condition: { type: 'string', describe: 'Condition to wait on', default: 'stopped', placeholder: 'state' } },
  async run(args, ctx) {
    const engine = await ctx.engine();
    return reportEach(ctx, args.containers, async (c) => String(await engine.waitContainer(c)));
  },
});
