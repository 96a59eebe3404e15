import { defineCommand } from '../cli/command.js';
import { inspectJson, renderTemplate } from '../cli/output.js';
import { asTspodError, TspodError } from '../errors.js';
import { getNetwork, toInspect } from '../engine/networks.js';

const isJson = (format: string): boolean => /^\s*(json|\{\{\s*json\s*\.?\s*\}\})\s*$/.test(format);

export default defineCommand<{ names: string[]; format?: string }>({
  describe: 'Display the network configuration for one or more networks',
  positionals: [{ name: 'names', describe: 'networks to inspect', variadic: true }],
  flags: {
    format: { type: 'string', alias: 'f', describe: 'Pretty-print network to JSON or using a Go template', default: 'json', placeholder: 'string' },
  },
  async run(args, ctx) {
    const names = args.names ?? [];
    if (names.length === 0) throw new TspodError('usage', 'requires at least 1 arg(s), only received 0');
    const store = (await ctx.engine()).store();
    const found: Array<Record<string, unknown>> = [];
    const errors: TspodError[] = [];
    for (const n of names) {
      try {
        found.push(toInspect(getNetwork(store, n)));
      } catch (e) {
        errors.push(asTspodError(e));
      }
    }
    const format = args.format ?? 'json';
    const stdout = isJson(format) ? inspectJson(found) : found.map((f) => renderTemplate(format, f)).join('');
    if (errors.length === 0) return { stdout };
    ctx.stdout.write(stdout);
    for (const e of errors.slice(1)) ctx.stderr.write(`error inspecting object: ${e.message}\n`);
    throw new TspodError(errors[0]!.code, `inspecting object: ${errors[0]!.message}`);
  },
});
