import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ containers: string[]; attach: boolean; interactive: boolean; 'detach-keys'?: string }>({
  describe: 'Start one or more containers',
  positionals: [{ name: 'containers', describe: 'containers to start', required: true, variadic: true }],
  flags: {
    attach: { type: 'boolean', alias: 'a', describe: "Attach container's STDOUT and STDERR" },
    interactive: { type: 'boolean', alias: 'i', describe: "Keep STDIN open even if not attached" },
    'detach-keys': { type: 'string', describe: 'Select the key sequence for detaching a container', placeholder: 'keys' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    if (args.attach) {
      if (args.containers.length > 1) throw new TspodError('usage', 'you cannot start and attach multiple containers at once');
      const code = await engine.startContainer(args.containers[0]!, {
        get stdin() {
          return ctx.stdin; // read only with -i: building process.stdin costs
        },
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        interactive: args.interactive,
        detachKeys: args['detach-keys'],
      });
      return { exitCode: code ?? 0 };
    }
    return reportEach(ctx, args.containers, async (c) => {
      await engine.startContainer(c);
      return c;
    });
  },
});
