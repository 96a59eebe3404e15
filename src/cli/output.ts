// Output helpers shared by commands: --format handling, JSON the way podman prints it, YAML for info.
import { compileTemplate, normalizeFormat } from '../format/template.js';
import { formatOutput } from '../format/table.js';

/** `json` → indented JSON; anything else is a Go template, executed once over `data`. */
export function renderTemplate(format: string, data: unknown): string {
  if (format === 'json' || format === '{{json .}}') return `${JSON.stringify(data, null, 4)}\n`;
  const out = compileTemplate(normalizeFormat(format)).execute(data);
  return out.endsWith('\n') ? out : `${out}\n`;
}

/** podman inspect's layout: an array indented with five spaces per level. */
export function inspectJson(items: unknown[]): string {
  return `${JSON.stringify(items, null, 5)}\n`;
}

function yamlScalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v === '' || /^[\s\-?:,[\]{}#&*!|>'"%@`]|: |\s$|^(true|false|null|[0-9.]+)$/.test(v) ? JSON.stringify(v) : v;
  return String(v);
}

export function toYaml(v: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return `${pad}[]\n`;
    return v
      .map((item) => {
        if (item && typeof item === 'object') {
          const inner = toYaml(item, indent + 2).trimStart();
          return `${pad}- ${inner}`;
        }
        return `${pad}- ${yamlScalar(item)}\n`;
      })
      .join('');
  }
  if (v && typeof v === 'object') {
    let s = '';
    for (const [k, val] of Object.entries(v)) {
      if (val && typeof val === 'object' && (Array.isArray(val) ? val.length > 0 : Object.keys(val).length > 0)) {
        s += `${pad}${k}:\n${toYaml(val, indent + 2)}`;
      } else if (val && typeof val === 'object') {
        s += `${pad}${k}: ${Array.isArray(val) ? '[]' : '{}'}\n`;
      } else s += `${pad}${k}: ${yamlScalar(val)}\n`;
    }
    return s;
  }
  return `${pad}${yamlScalar(v)}\n`;
}

export interface Column<R> {
  header: string;
  field: keyof R & string;
}

/**
 * The `--format` contract of list commands (src/format/table.ts does the work): no format → the
 * default table of `columns`; `table TEMPLATE` → headers from the fields, aligned rows; `json` → an
 * array; any other template → one unaligned line per row.
 */
export function formatList<R extends object>(
  format: string | undefined,
  rows: R[],
  columns: Array<Column<R>>,
  opts: { noHeading?: boolean; name?: string; json?: (rows: readonly R[]) => unknown } = {},
): string {
  const headers: Record<string, string> = {};
  for (const c of columns) headers[c.field] = c.header;
  return formatOutput({
    format,
    rows,
    defaultFormat: columns.map((c) => `{{.${c.field}}}`).join('\t'),
    headers,
    noHeading: opts.noHeading,
    name: opts.name,
    json: opts.json,
  });
}
