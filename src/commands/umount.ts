import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ containers: string[]; all: boolean; force: boolean }>({
  describe: "Unmount working container's root filesystem",
  positionals: [{ name: 'containers', describe: 'containers to unmount', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Unmount all of the currently mounted containers' },
    force: { type: 'boolean', alias: 'f', describe: 'Force the complete unmount of the specified mounted containers' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    if (args.all) return { stdout: (await engine.unmountAllContainers(args.force)).map((id) => `${id}\n`).join('') };
    const names = args.containers ?? [];
    if (!names.length) throw new TspodError('usage', 'you must provide at least one container name or id');
    return reportEach(ctx, names, async (c) => {
      await engine.unmountContainer(c, args.force);
      return c;
    });
  },
});
