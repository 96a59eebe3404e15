import { defineCommand } from '../cli/command.js';
import { formatList, type Column } from '../cli/output.js';
import { TspodError } from '../errors.js';
import * as volumes from '../engine/volumes.js';

interface Args {
  filter?: string[];
  format?: string;
  noheading: boolean;
  quiet: boolean;
}

type Row = volumes.VolumeInspect;

/**
 * podman's `volume ls --format json` is jsoniter's MarshalIndent with two spaces, which prints an
 * empty map as "{", an indented blank line, "}".
 */
function listJson(items: unknown[]): string {
  return `${JSON.stringify(items, null, 2)
    .split('\n')
    .map((line) => {
      const m = /^(\s*)(.*)\{\}(,?)$/.exec(line);
      return m ? `${m[1]}${m[2]}{\n${m[1]}  \n${m[1]}}${m[3]}` : line;
    })
    .join('\n')}\n`;
}

/** podman's report.IsJSON: `json`, `{{json .}}` and `{{ json . }}` (format/table.ts's isJSONFormat misses the last two). */
const isJson = (format: string): boolean => /^\s*(json|\{\{\s*json\s*\.?\s*\}\})\s*$/.test(format);

export default defineCommand<Args>({
  describe: 'List volumes',
  flags: {
    filter: { type: 'array', alias: 'f', describe: 'Filter volume output (name=, label=, driver=, dangling=, until=)', placeholder: 'strings' },
    format: { type: 'string', describe: 'Format volume output using JSON or a Go template', placeholder: 'string' },
    noheading: { type: 'boolean', describe: 'Do not print headers' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Print volume output in quiet mode' },
  },
  async run(args, ctx) {
    if (args.quiet && args.format) throw new TspodError('usage', 'quiet and format flags cannot be used together');
    const engine = await ctx.engine();
    const store = engine.store();
    // --filter is a comma-separated list in podman (pflag StringSlice).
    const filters = (args.filter ?? []).flatMap((f) => String(f).split(','));
    const rows: Row[] = volumes.listVolumes(store, filters, volumes.usersOf(engine)).map((v) => volumes.toInspect(store, v));
    if (args.format && isJson(args.format)) return { stdout: listJson(rows) };
    if (rows.length === 0) return {}; // podman prints nothing at all, not even the heading
    if (args.quiet) return { stdout: rows.map((r) => `${r.Name}\n`).join('') };
    const columns: Column<Row>[] = [
      { header: 'DRIVER', field: 'Driver' },
      { header: 'VOLUME NAME', field: 'Name' },
    ];
    return { stdout: formatList(args.format, rows, columns, { noHeading: args.noheading, name: 'ls' }) };
  },
});
