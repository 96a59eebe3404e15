import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ containers: string[]; all: boolean }>({
  describe: 'Pause all the processes in one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to pause', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Pause all running containers' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.all) names = await engine.containersInState('running');
    else if (!names.length) throw new TspodError('usage', 'you must provide at least one container name or id');
    return reportEach(ctx, names, async (c) => {
      await engine.pauseContainer(c, false);
      return c;
    });
  },
});
