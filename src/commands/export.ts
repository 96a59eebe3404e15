import { closeSync, openSync } from 'node:fs';
import { Writable } from 'node:stream';
import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

export default defineCommand<{ container: string; output?: string }>({
  describe: "Export a container's filesystem contents as a tar archive",
  positionals: [{ name: 'container', describe: 'container to export', required: true }],
  flags: {
    output: { type: 'string', alias: 'o', describe: 'Write to a specified file (default: stdout, which must be redirected)', placeholder: 'string' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    if (args.output === undefined || args.output === '-') {
      if (ctx.stdout.isTTY) throw new TspodError('usage', 'refusing to export to terminal. Use -o flag or redirect');
      await engine.exportContainer(args.container, ctx.stdout);
      return;
    }
    let fd: number;
    try {
      fd = openSync(args.output, 'w', 0o644);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new TspodError('invalid-argument', `creating file "${args.output}": open ${args.output}: ${errText(err)}`);
    }
    try {
      // tar writes to the file itself; the Writable is only a carrier for the fd.
      await engine.exportContainer(args.container, Object.assign(new Writable({ write: (_c, _e, cb) => cb() }), { fd }));
    } finally {
      closeSync(fd);
    }
  },
});

function errText(e: NodeJS.ErrnoException): string {
  if (e.code === 'ENOENT') return 'no such file or directory';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return e.message;
}
