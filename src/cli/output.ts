// Output helpers shared by commands: --format handling, JSON the way podman prints it, YAML for info.
import { compileTemplate, normalizeFormat } from '../format/template.js';

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
 * Go's text/tabwriter as podman configures it (minwidth 12, padding 2, spaces): every
 * tab-terminated cell is padded to its column's width; the last cell of a line is not.
 */
export function tabwrite(lines: string[]): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) {
    r.slice(0, -1).forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, Math.max(12, [...c].length + 2));
    });
  }
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c + ' '.repeat(widths[i]! - [...c].length) : c)).join('').trimEnd() + '\n').join('');
}

function headerFor(field: string, columns: Array<Column<any>>): string {
  const col = columns.find((c) => c.field === field);
  if (col) return col.header;
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

/**
 * The `--format` contract of list commands: no format → the default table; `table TEMPLATE` → a
 * header derived from the fields, then aligned rows; `json` → an array; any other template → one
 * unaligned line per row.
 */
export function formatList<R extends object>(format: string | undefined, rows: R[], columns: Array<Column<R>>, opts: { noHeading?: boolean } = {}): string {
  if (format === 'json') return `${JSON.stringify(rows, null, 4)}\n`;
  let tmpl: string;
  let table: boolean;
  if (!format || format === 'table') {
    tmpl = columns.map((c) => `{{.${c.field}}}`).join('\t');
    table = true;
  } else if (format.startsWith('table ')) {
    tmpl = normalizeFormat(format.slice(6));
    table = true;
  } else {
    tmpl = normalizeFormat(format);
    table = false;
  }
  const t = compileTemplate(tmpl);
  const lines = rows.map((r) => t.execute(r));
  if (!table) return lines.map((l) => `${l}\n`).join('');
  if (!opts.noHeading) {
    const header = tmpl.replace(/\{\{-?\s*\.([A-Za-z0-9_]+)\s*-?\}\}/g, (_m, f: string) => headerFor(f, columns));
    lines.unshift(header);
  }
  return tabwrite(lines);
}
