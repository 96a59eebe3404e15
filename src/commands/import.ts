import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

interface Args {
  source: string;
  reference?: string;
  change: string[];
  message?: string;
  quiet: boolean;
}

export default defineCommand<Args>({
  describe: 'Import a tarball to create a filesystem image',
  positionals: [
    { name: 'source', describe: 'tarball: a file, an http(s) URL, or - for stdin', required: true },
    { name: 'reference', describe: 'name of the new image' },
  ],
  flags: {
    change: { type: 'array', alias: 'c', describe: 'Apply the following possible instructions to the created image (default []): CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR', placeholder: 'Changes' },
    message: { type: 'string', alias: 'm', describe: 'Set commit message for imported image', placeholder: 'string' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Suppress output' },
  },
  examples: [['tspod import rootfs.tar.gz localhost/mine:1', 'make an image from a root filesystem tarball']],
  async run(args, ctx) {
    const engine = await ctx.engine();
    let source: string | typeof ctx.stdin = args.source;
    if (args.source === '-') {
      if (ctx.stdin.isTTY) throw new TspodError('usage', 'cannot read from terminal, use command-line redirection');
      source = ctx.stdin;
    }
    const id = await engine.importImage(source, args.reference, { changes: args.change ?? [], message: args.message });
    return { stdout: `sha256:${id}\n` };
  },
});
