import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ containers: string[]; force: boolean; all: boolean; volumes: boolean; ignore: boolean; time?: number }>({
  describe: 'Remove one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to remove', variadic: true }],
  flags: {
    force: { type: 'boolean', alias: 'f', describe: 'Force removal of a running or unusable container' },
    all: { type: 'boolean', alias: 'a', describe: 'Remove all containers' },
    volumes: { type: 'boolean', alias: 'v', describe: 'Remove anonymous volumes associated with the container' },
    ignore: { type: 'boolean', alias: 'i', describe: 'Ignore errors when a specified container is missing' },
    time: { type: 'number', alias: 't', describe: 'Seconds to wait for stop before killing the container', placeholder: 'int' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.all) names = (await engine.listContainers()).map((c) => c.id);
    else if (!names.length) throw new TspodError('usage', 'you must provide at least one name or id');
    return reportEach(ctx, names, async (c) => {
      try {
        // podman prints each container as it was named (-a: by ID).
        await engine.removeContainer(c, { force: args.force, volumes: args.volumes, time: args.time });
        return c;
      } catch (e) {
        if ((args.ignore || args.force) && e instanceof TspodError && e.code === 'no-such-container') return;
        if (e instanceof TspodError && e.code === 'no-such-container') throw new TspodError(e.code, e.message, { exitCode: 1 });
        throw e;
      }
    });
  },
});
