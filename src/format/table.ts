// Podman's output conventions for list commands (images, ps, volume ls, ...), after
// containers/common pkg/report: the default table, `--format json`, `--format 'table ...'`
// with a header row, and plain Go templates, one line per item.

import { TspodError } from '../errors.js';
import { goJSON } from './gofmt.js';
import { PODMAN_TABWRITER, tabwrite } from './tabwriter.js';
import { compileTemplate, FIELD_RESOLVER, normalizeFormat, type FieldResolver, type Template, type TemplateFunc } from './template.js';

export interface Column<T> {
  header: string;
  field: (row: T) => string;
}

export interface RenderTableOptions {
  noHeading?: boolean;
}

/** A table aligned like Podman's: columns at least 12 wide, 2 spaces apart; the last unpadded. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], opts: RenderTableOptions = {}): string {
  let text = '';
  if (!opts.noHeading) text += columns.map((c) => c.header).join('\t') + '\n';
  for (const row of rows) text += columns.map((c) => c.field(row)).join('\t') + '\n';
  return tabwrite(text, PODMAN_TABWRITER);
}

/** report.IsJSON: `json`, `{{json}}` and `{{ json. }}` ask for the whole list as JSON. */
export function isJSONFormat(format: string): boolean {
  return /^\s*(json|\{\{\s*json\.?\s*\}\})\s*$/.test(format);
}

/** report.HasTable. */
export function hasTable(format: string): boolean {
  return format.startsWith('table ');
}

/** report.EnforceRange: run the template once per item unless it ranges itself. */
export function enforceRange(format: string): string {
  if (/\{\{\s*range\s*\.\s*\}\}[\s\S]*\{\{\s*end\s*-?\s*\}\}/.test(format)) return format;
  return '{{range .}}' + format + '{{end -}}';
}

/** Go's camelcase.Split, as containers/common uses it for column headers ("CreatedAt" → Created At). */
export function splitCamelCase(src: string): string[] {
  const runs: string[][] = [];
  let last = 0;
  for (const r of src) {
    const cls = /\p{Ll}/u.test(r) ? 1 : /\p{Lu}/u.test(r) ? 2 : /\p{Nd}/u.test(r) ? 3 : 4;
    if (cls === last) runs[runs.length - 1]!.push(r);
    else runs.push([r]);
    last = cls;
  }
  for (let i = 0; i < runs.length - 1; i++) {
    if (/\p{Lu}/u.test(runs[i]![0]!) && /\p{Ll}/u.test(runs[i + 1]![0]!)) {
      runs[i + 1]!.unshift(runs[i]!.pop()!);
    }
  }
  return runs.filter((r) => r.length > 0).map((r) => r.join(''));
}

/** The title of the column showing `.name`: an override, else the field name split and upper-cased. */
export function headerFor(name: string, headers: Readonly<Record<string, string>> = {}): string {
  if (Object.prototype.hasOwnProperty.call(headers, name)) return headers[name]!.toUpperCase();
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v.toUpperCase();
  return splitCamelCase(name).join(' ').toUpperCase();
}

/** The data the template runs against to print the header row: every field is its title. */
function headerRow(headers: Readonly<Record<string, string>>): FieldResolver {
  return { [FIELD_RESOLVER]: (name: string) => headerFor(name, headers) };
}

export interface FormatOutputOptions<T> {
  /** The --format value; empty or undefined for the default table. */
  format?: string;
  rows: readonly T[];
  /** The default table. */
  defaultColumns?: readonly Column<T>[];
  /** Or a default row template such as "{{.ID}}\t{{.Names}}", aligned and headed like a table. */
  defaultFormat?: string;
  /** Header overrides by field name, e.g. { ID: 'IMAGE ID' }. */
  headers?: Readonly<Record<string, string>>;
  /** --noheading. */
  noHeading?: boolean;
  /** The template name in error messages (Podman uses the command name). */
  name?: string;
  /** What `--format json` prints, when it differs from the rows. */
  json?: (rows: readonly T[]) => unknown;
  funcs?: Readonly<Record<string, TemplateFunc>>;
}

/**
 * The output of a list command for a --format value, as one string:
 * - '' → the default table (headers unless noHeading);
 * - 'json' → the rows as an indented JSON array (json.MarshalIndent, four spaces);
 * - 'table {{.A}}\t{{.B}}' → a header row from the field names, then one aligned row per item;
 * - any other template → one line per item, no header, no alignment.
 * Throws TspodError('invalid-argument') for a template that does not parse or execute.
 */
export function formatOutput<T>(opts: FormatOutputOptions<T>): string {
  const format = opts.format ?? '';
  const rows = opts.rows;
  if (isJSONFormat(format)) {
    return goJSON(opts.json ? opts.json(rows) : rows, { indent: '    ', escapeHTML: true }) + '\n';
  }
  let tmpl: Template;
  let table: boolean;
  if (format === '' || format === 'table') {
    if (opts.defaultColumns) return renderTable(rows, opts.defaultColumns, { noHeading: opts.noHeading });
    if (opts.defaultFormat === undefined) throw new TspodError('internal', 'formatOutput: no default columns or format');
    tmpl = compile('{{range .}}' + normalizeFormat(opts.defaultFormat) + '{{end -}}', undefined, opts);
    table = true;
  } else if (hasTable(format)) {
    tmpl = compile('{{range .}}' + normalizeFormat(format) + '{{end -}}', '{{range .}}' + format.slice(6) + '{{end -}}', opts);
    table = true;
  } else {
    tmpl = compile(enforceRange(normalizeFormat(format)), enforceRange(format), opts);
    table = false;
  }
  if (!table) return tmpl.execute(rows);
  let text = '';
  if (!opts.noHeading) text += tmpl.execute([headerRow(opts.headers ?? {})]);
  text += tmpl.execute(rows);
  return tabwrite(text, PODMAN_TABWRITER);
}

/**
 * Podman parses the normalized text first and, if that fails (a `\n` inside a quoted string,
 * say), the text as typed; the error reported is the second one's.
 */
function compile<T>(normText: string, rawText: string | undefined, opts: FormatOutputOptions<T>): Template {
  const copts = { name: opts.name, funcs: opts.funcs };
  try {
    return compileTemplate(normText, copts);
  } catch (e) {
    if (rawText === undefined) throw e;
    return compileTemplate(rawText, copts);
  }
}
