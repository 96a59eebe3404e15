import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

interface Args {
  input?: string;
  quiet: boolean;
}

export default defineCommand<Args>({
  describe: 'Load image(s) from a tar archive',
  flags: {
    input: { type: 'string', alias: 'i', describe: 'Read from specified archive file (default: stdin)', placeholder: 'string' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Suppress the output' },
  },
  examples: [['tspod load -i alpine.tar', 'load the images of an archive']],
  async run(args, ctx) {
    const engine = await ctx.engine();
    let source: string | NodeJS.ReadableStream;
    if (args.input === undefined || args.input === '-') {
      if (ctx.stdin.isTTY) throw new TspodError('usage', 'cannot read from terminal, use command-line redirection or the --input flag');
      source = ctx.stdin;
    } else source = args.input;
    const names = await engine.loadImages(source as Parameters<typeof engine.loadImages>[0]);
    return { stdout: names.map((n) => `Loaded image: ${n}\n`).join('') };
  },
});
