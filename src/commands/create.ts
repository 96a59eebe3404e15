import { existsSync, writeFileSync } from 'node:fs';
import { TspodError } from '../errors.js';
import { defineCommand } from '../cli/command.js';
import { pullRenderer } from '../cli/progress.js';
import { CREATE_FLAGS, createOptions } from './create-flags.js';

export default defineCommand<{ image: string; command: string[]; cidfile?: string; quiet?: boolean } & Record<string, unknown>>({
  describe: 'Create but do not start a container',
  positionals: [
    { name: 'image', describe: 'image to create the container from', required: true },
    { name: 'command', describe: 'command and arguments', variadic: true },
  ],
  flags: { ...CREATE_FLAGS, quiet: { type: 'boolean', alias: 'q', describe: 'Suppress output information when pulling images' } },
  haltAtNonOption: true,
  async run(args, ctx) {
    const engine = await ctx.engine();
    if (args.cidfile && existsSync(args.cidfile)) {
      throw new TspodError('exists', `container id file exists. Ensure another container is not using it or delete ${args.cidfile}`);
    }
    const rec = await engine.createContainer(createOptions(args, args.image, args.command ?? [], process.argv.slice(2)), pullRenderer(ctx.stderr, Boolean(args.quiet)));
    if (args.cidfile) writeFileSync(args.cidfile, rec.id, { flag: 'wx' });
    return { stdout: `${rec.id}\n` };
  },
});
