import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ target: string; format?: string }>({
  describe: 'Inspect changes to the container or image filesystems',
  positionals: [{ name: 'target', describe: 'container or image', required: true }],
  flags: {
    format: { type: 'string', describe: 'Change the output format (json)', placeholder: 'string' },
  },
  async run(args, ctx) {
    if (args.format !== undefined && args.format !== 'json') {
      throw new TspodError('usage', `only "json" is supported as a format for diff, not ${JSON.stringify(args.format)}`);
    }
    const engine = await ctx.engine();
    const changes = await engine.diff(args.target);
    if (args.format === 'json') {
      const { diffJson } = await import('../engine/fs-diff.js');
      return { stdout: `${JSON.stringify(diffJson(changes), null, 5)}\n` };
    }
    return { stdout: changes.map((c) => `${c.kind} ${c.path}\n`).join('') };
  },
});
