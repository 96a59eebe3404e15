import { existsSync, writeFileSync } from 'node:fs';
import { TspodError } from '../errors.js';
import { defineCommand } from '../cli/command.js';
import { pullRenderer } from '../cli/progress.js';
import { CREATE_FLAGS, createOptions } from './create-flags.js';

export default defineCommand<{ image: string; command: string[]; detach: boolean; cidfile?: string; quiet?: boolean } & Record<string, unknown>>({
  describe: 'Run a command in a new container',
  positionals: [
    { name: 'image', describe: 'image to run', required: true },
    { name: 'command', describe: 'command and arguments', variadic: true },
  ],
  flags: {
    ...CREATE_FLAGS,
    detach: { type: 'boolean', alias: 'd', describe: 'Run container in background and print container ID' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Suppress output information when pulling images' },
  },
  haltAtNonOption: true,
  examples: [
    ['tspod run -it alpine:3.15 /bin/sh', 'an interactive shell'],
    ['tspod run -d --name web alpine:3.15 sleep 1000', 'a container in the background'],
  ],
  async run(args, ctx) {
    const engine = await ctx.engine();
    if (args.cidfile && existsSync(args.cidfile)) {
      throw new TspodError('exists', `container id file exists. Ensure another container is not using it or delete ${args.cidfile}`);
    }
    const opts = createOptions(args, args.image, args.command ?? [], process.argv.slice(2));
    const rec = await engine.createContainer(opts, pullRenderer(ctx.stderr, Boolean(args.quiet)));
    if (args.cidfile) writeFileSync(args.cidfile, rec.id, { flag: 'wx' });
    if (args.detach) {
      try {
        await engine.startContainer(rec.id);
      } catch (e) {
        if (opts.rm) await engine.removeContainer(rec.id, { force: true, volumes: false }).catch(() => {});
        throw e;
      }
      return { stdout: `${rec.id}\n` };
    }
    let code: number | undefined;
    try {
      code = await engine.startContainer(rec.id, {
        get stdin() {
          return ctx.stdin; // read only with -i: building process.stdin costs
        },
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        interactive: opts.interactive,
        detachKeys: opts.detachKeys,
        sigProxy: args['sig-proxy'] !== false,
      });
    } catch (e) {
      if (opts.rm) await engine.removeContainer(rec.id, { force: true, volumes: false }).catch(() => {});
      throw e;
    }
    // Detached with the detach keys: 0. Otherwise the container's code (--rm was done by the cleanup).
    return { exitCode: code ?? 0 };
  },
});
