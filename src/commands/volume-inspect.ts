import { defineCommand } from '../cli/command.js';
import { inspectJson, renderTemplate } from '../cli/output.js';
import { asTspodError, TspodError } from '../errors.js';
import * as volumes from '../engine/volumes.js';

/** podman's report.IsJSON: `json`, `{{json .}}` and `{{ json . }}` (format/table.ts's isJSONFormat misses the last two). */
const isJson = (format: string): boolean => /^\s*(json|\{\{\s*json\s*\.?\s*\}\})\s*$/.test(format);

export default defineCommand<{ names: string[]; all: boolean; format?: string }>({
  describe: 'Display detailed information on one or more volumes',
  positionals: [{ name: 'names', describe: 'volumes to inspect', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Inspect all volumes' },
    format: { type: 'string', alias: 'f', describe: 'Format volume output using a Go template or json', default: 'json', placeholder: 'string' },
  },
  examples: [
    ['tspod volume inspect myvol', 'as JSON'],
    ['tspod volume inspect --format "{{.Driver}} {{.Scope}}" myvol', 'with a Go template'],
  ],
  async run(args, ctx) {
    const names = args.names ?? [];
    if (Boolean(args.all) === names.length > 0) throw new TspodError('usage', 'provide one or more volume names or use --all');
    const store = (await ctx.engine()).store();
    const found: volumes.VolumeInspect[] = [];
    const errors: TspodError[] = [];
    if (args.all) found.push(...volumes.listVolumes(store).map((v) => volumes.toInspect(store, v)));
    for (const n of names) {
      try {
        found.push(volumes.inspectVolume(store, n));
      } catch (e) {
        errors.push(asTspodError(e));
      }
    }
    const format = args.format ?? 'json';
    const stdout = isJson(format) ? inspectJson(found) : found.map((f) => renderTemplate(format, f)).join('');
    if (errors.length === 0) return { stdout };
    // Podman: every failure but the first as "error inspecting object: ...", then the first as the error.
    ctx.stdout.write(stdout);
    for (const e of errors.slice(1)) ctx.stderr.write(`error inspecting object: ${e.message}\n`);
    throw new TspodError(errors[0]!.code, `inspecting object: ${errors[0]!.message}`);
  },
});
