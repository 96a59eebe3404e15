import { createWriteStream, openSync } from 'node:fs';
import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';
import type { ArchiveFormat } from '../engine/archive.js';

interface Args {
  images: string[];
  output?: string;
  format: string;
  quiet: boolean;
  'multi-image-archive': boolean;
}

export default defineCommand<Args>({
  describe: 'Save image(s) to an archive',
  positionals: [{ name: 'images', describe: 'images to save', required: true, variadic: true }],
  flags: {
    output: { type: 'string', alias: 'o', describe: 'Write to a specified file (default: stdout, which must be redirected)', placeholder: 'string' },
    format: {
      type: 'string',
      describe: 'Save image to oci-archive, oci-dir (directory with oci manifest type), docker-archive',
      default: 'docker-archive',
      choices: ['docker-archive', 'oci-archive', 'oci-dir'],
      placeholder: 'string',
    },
    quiet: { type: 'boolean', alias: 'q', describe: 'Suppress the output' },
    'multi-image-archive': { type: 'boolean', alias: 'm', describe: 'Interpret additional arguments as images not tags and create a multi-image-archive (only for docker-archive)' },
  },
  examples: [['tspod save -o alpine.tar alpine:3.15', 'save an image to a docker archive']],
  async run(args, ctx) {
    const engine = await ctx.engine();
    const format = args.format as ArchiveFormat;
    if (format === 'oci-dir') {
      if (!args.output) throw new TspodError('usage', 'oci-dir needs a directory: use -o DIR');
      await engine.saveImages(args.images, { format, output: args.output });
      return;
    }
    if (args.output === undefined || args.output === '-') {
      if (ctx.stdout.isTTY) throw new TspodError('usage', 'refusing to save to terminal. Use -o flag or redirect');
      await engine.saveImages(args.images, { format, out: ctx.stdout });
      return;
    }
    let fd: number;
    try {
      fd = openSync(args.output, 'w', 0o644);
    } catch (e) {
      throw new TspodError('invalid-argument', `creating file "${args.output}": ${(e as Error).message}`);
    }
    // The stream owns the fd and closes it when the archive is complete.
    await engine.saveImages(args.images, { format, out: createWriteStream('', { fd }) });
  },
});
