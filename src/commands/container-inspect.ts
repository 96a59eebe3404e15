import { defineCommand } from '../cli/command.js';
import { inspectJson, renderTemplate } from '../cli/output.js';
import { TspodError, formatError } from '../errors.js';

export default defineCommand<{ containers: string[]; format?: string; latest: boolean; size: boolean }>({
  describe: 'Display the configuration of a container',
  positionals: [{ name: 'containers', describe: 'containers to inspect', variadic: true }],
  flags: {
    format: { type: 'string', alias: 'f', describe: 'Format the output to a Go template or json', placeholder: 'string' },
    latest: { type: 'boolean', alias: 'l', describe: 'Act on the latest container tspod is aware of' },
    size: { type: 'boolean', alias: 's', describe: 'Display total file size' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.latest) {
      const all = await engine.listContainers();
      const last = all.sort((a, b) => Date.parse(b.created) - Date.parse(a.created))[0];
      if (!last) throw new TspodError('no-such-container', 'no containers to inspect');
      names = [last.id];
    }
    if (!names.length) throw new TspodError('usage', 'requires at least 1 arg: CONTAINER');
    const found: unknown[] = [];
    let exitCode = 0;
    for (const n of names) {
      try {
        found.push(await engine.inspectContainer(n));
      } catch (e) {
        ctx.stderr.write(`${formatError(new TspodError((e as TspodError).code ?? 'internal', `inspecting object: ${(e as Error).message}`))}\n`);
        exitCode = 125;
      }
    }
    const stdout = !args.format || args.format === 'json' ? inspectJson(found) : found.map((f) => renderTemplate(args.format!, f)).join('');
    return { stdout, exitCode };
  },
});
