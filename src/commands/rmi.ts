import { defineCommand } from '../cli/command.js';
import { TspodError, formatError } from '../errors.js';

// Podman's rmi exit codes: 1 no such image, 2 image in use, 125 anything else.
function exitFor(e: TspodError): number {
  if (e.code === 'no-such-image') return 1;
  if (e.code === 'image-in-use') return 2;
  return e.exitCode;
}

export default defineCommand<{ images: string[]; force: boolean; all: boolean; ignore: boolean }>({
  describe: 'Remove one or more images from local storage',
  positionals: [{ name: 'images', describe: 'images to remove', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Remove all images' },
    force: { type: 'boolean', alias: 'f', describe: 'Force removal of the image and any containers using the image' },
    ignore: { type: 'boolean', alias: 'i', describe: 'Ignore errors if a specified image does not exist' },
  },
  async run(args, ctx) {
    const images = args.images ?? [];
    if (!args.all && images.length === 0) {
      throw new TspodError('usage', 'image name or ID must be specified', { hint: "See 'tspod rmi --help'" });
    }
    if (args.all && images.length) throw new TspodError('usage', 'when using the --all switch, you may not pass any images names or IDs');
    const report = await (await ctx.engine()).removeImages(images, { force: args.force, all: args.all });
    let out = '';
    for (const n of report.untagged) out += `Untagged: ${n}\n`;
    for (const id of report.deleted) out += `Deleted: ${id}\n`;
    let exitCode = 0;
    for (const e of report.errors) {
      if (args.ignore && e.code === 'no-such-image') continue;
      ctx.stderr.write(`${formatError(e)}\n`);
      exitCode = exitFor(e);
    }
    return { stdout: out, exitCode };
  },
});
