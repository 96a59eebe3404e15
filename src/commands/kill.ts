import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ containers: string[]; signal: string; all: boolean }>({
  describe: 'Kill one or more running containers with a specific signal',
  positionals: [{ name: 'containers', describe: 'containers to signal', variadic: true }],
  flags: {
    signal: { type: 'string', alias: 's', describe: 'Signal to send to the container', default: 'KILL', placeholder: 'signal' },
    all: { type: 'boolean', alias: 'a', describe: 'Signal all running containers' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.all) names = (await engine.listContainers()).filter((c) => c.state.status === 'running').map((c) => c.id);
    else if (!names.length) throw new TspodError('usage', 'you must provide at least one container name or id');
    return reportEach(ctx, names, async (c) => {
      await engine.killContainer(c, args.signal);
      return c;
    });
  },
});
