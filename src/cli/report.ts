// Bulk verbs report per item: each success on stdout, each failure as `Error: ...` on stderr,
// and a non-zero exit if any failed (the last failure's code, as podman does).
import { asTspodError, formatError } from '../errors.js';
import type { CommandResult, Context } from './command.js';

export async function reportEach<T>(ctx: Context, items: T[], fn: (item: T) => Promise<string | string[] | void>): Promise<CommandResult> {
  let exitCode = 0;
  for (const item of items) {
    try {
      const out = await fn(item);
      const lines = out === undefined ? [] : Array.isArray(out) ? out : [out];
      for (const l of lines) ctx.stdout.write(`${l}\n`);
    } catch (e) {
      const te = asTspodError(e);
      ctx.stderr.write(`${formatError(te)}\n`);
      exitCode = te.exitCode;
    }
  }
  return { exitCode };
}
