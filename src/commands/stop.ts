import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ containers: string[]; time?: number; all: boolean; ignore: boolean }>({
  describe: 'Stop one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to stop', variadic: true }],
  flags: {
    time: { type: 'number', alias: 't', describe: 'Seconds to wait for stop before killing the container', placeholder: 'int' },
    all: { type: 'boolean', alias: 'a', describe: 'Stop all running containers' },
    ignore: { type: 'boolean', alias: 'i', describe: 'Ignore errors when a specified container is missing' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.all) names = (await engine.listContainers()).filter((c) => c.state.status === 'running').map((c) => c.id);
    else if (!names.length) throw new TspodError('usage', 'you must provide at least one container name or id');
    return reportEach(ctx, names, async (c) => {
      try {
        await engine.stopContainer(c, args.time);
      } catch (e) {
        if (args.ignore && e instanceof TspodError && e.code === 'no-such-container') return;
        throw e;
      }
      return c;
    });
  },
});
