import { describe, expect, test } from 'vitest';
import { isTspodError } from '../../src/errors.js';
import {
  enforceRange,
  formatOutput,
  hasTable,
  headerFor,
  isJSONFormat,
  renderTable,
  splitCamelCase,
  type Column,
} from '../../src/format/table.js';
import { PODMAN_TABWRITER, tabwrite } from '../../src/format/tabwriter.js';

const tight = { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' };

describe('tabwrite (Go text/tabwriter)', () => {
  test.each<[string, typeof tight, string]>([
    ['a\tb\tc\naaa\tbbbbb\tc\n', tight, 'a   b     c\naaa bbbbb c\n'],
    // the text after a line's last tab belongs to no column
    ['aaaaaa\tb\tc\nx\ty\n', tight, 'aaaaaa b c\nx      y\n'],
    // a line without tabs ends every column block
    ['a\tb\naaaa\nccc\td\n', tight, 'a b\naaaa\nccc d\n'],
    // columns are measured in runes
    ['é\tx\nab\ty\n', tight, 'é  x\nab y\n'],
    ['no tabs at all', tight, 'no tabs at all'],
    ['', tight, ''],
    // trailing tab: the cell is padded
    ['a\t\nbb\t\n', tight, 'a  \nbb \n'],
    // formfeed flushes: blocks before and after are independent
    ['a\tb\n\fxxxxx\ty\n', tight, 'a b\n\nxxxxx y\n'],
    ['a\tb\n', { ...tight, padchar: '\t', tabwidth: 4 }, 'a\tb\n'],
    // tab padding: cell widths round up to a multiple of tabwidth
    ['ab\tc\nabcdefgh\td\n', { ...tight, padchar: '\t', tabwidth: 4 }, 'ab\t\t\tc\nabcdefgh\td\n'],
    // AlignRight pads before the text; the padding stays inside the column
    ['a\tb\nccc\td\n', { ...tight, alignRight: true } as typeof tight, '   ab\n cccd\n'],
  ])('%j', (input, opts, want) => {
    expect(tabwrite(input, opts)).toBe(want);
  });

  test('podman settings: minwidth 12, padding 2', () => {
    expect(tabwrite('ID\tNAME\tX\nabc\tb\tc\n', PODMAN_TABWRITER)).toBe('ID          NAME        X\nabc         b           c\n');
    expect(tabwrite('0123456789abcdef\tx\n', PODMAN_TABWRITER)).toBe('0123456789abcdef  x\n');
  });
});

describe('renderTable', () => {
  interface Vol {
    Name: string;
    Driver: string;
  }
  const vols: Vol[] = [
    { Name: 'tspodfmt-a-much-longer-volume-name', Driver: 'local' },
    { Name: 'tspodfmtvol1', Driver: 'local' },
  ];
  const cols: Column<Vol>[] = [
    { header: 'DRIVER', field: (v) => v.Driver },
    { header: 'VOLUME NAME', field: (v) => v.Name },
  ];

  test('matches `podman volume ls`', () => {
    expect(renderTable(vols, cols)).toBe(
      'DRIVER      VOLUME NAME\nlocal       tspodfmt-a-much-longer-volume-name\nlocal       tspodfmtvol1\n',
    );
  });

  test('noHeading and no rows', () => {
    expect(renderTable(vols, cols, { noHeading: true })).toBe('local       tspodfmt-a-much-longer-volume-name\nlocal       tspodfmtvol1\n');
    expect(renderTable([], cols)).toBe('DRIVER      VOLUME NAME\n');
    expect(renderTable([], cols, { noHeading: true })).toBe('');
  });

  test('matches the `podman images` header', () => {
    const c = ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'].map((h) => ({ header: h, field: () => '' }));
    expect(renderTable([], c)).toBe('REPOSITORY  TAG         IMAGE ID    CREATED     SIZE\n');
  });
});

describe('format helpers', () => {
  test.each<[string, boolean]>([
    ['json', true],
    [' json ', true],
    ['{{json}}', true],
    ['{{ json. }}', true],
    ['{{json .}}', false],
    ['table json', false],
    ['JSON', false],
  ])('isJSONFormat(%j) = %s', (f, want) => {
    expect(isJSONFormat(f)).toBe(want);
  });

  test('hasTable and enforceRange', () => {
    expect(hasTable('table {{.ID}}')).toBe(true);
    expect(hasTable('table')).toBe(false);
    expect(hasTable('{{.ID}} table ')).toBe(false);
    expect(enforceRange('{{.ID}}\n')).toBe('{{range .}}{{.ID}}\n{{end -}}');
    expect(enforceRange('{{range .}}{{.ID}}{{end}}')).toBe('{{range .}}{{.ID}}{{end}}');
    expect(enforceRange('{{ range . }}x{{ end -}}')).toBe('{{ range . }}x{{ end -}}');
  });

  test.each<[string, string[]]>([
    ['', []],
    ['lowercase', ['lowercase']],
    ['MyClass', ['My', 'Class']],
    ['HTML', ['HTML']],
    ['PDFLoader', ['PDF', 'Loader']],
    ['SimpleXMLParser', ['Simple', 'XML', 'Parser']],
    ['vimRPCPlugin', ['vim', 'RPC', 'Plugin']],
    ['GL11Version', ['GL', '11', 'Version']],
    ['99Bottles', ['99', 'Bottles']],
    ['BöseÜberraschung', ['Böse', 'Überraschung']],
    ['ImageID', ['Image', 'ID']],
  ])('splitCamelCase(%j)', (s, want) => {
    expect(splitCamelCase(s)).toEqual(want);
  });

  test('headerFor', () => {
    expect(headerFor('CreatedAt')).toBe('CREATED AT');
    expect(headerFor('ID', { ID: 'image id' })).toBe('IMAGE ID');
    expect(headerFor('id', { ID: 'Image ID' })).toBe('IMAGE ID');
    expect(headerFor('Names')).toBe('NAMES');
  });
});

describe('formatOutput (recorded from `podman volume ls`, podman 4.3.1)', () => {
  const rows = [
    { Name: 'tspodfmt-a-much-longer-volume-name', Driver: 'local', Labels: {}, MountCount: 0 },
    { Name: 'tspodfmtvol1', Driver: 'local', Labels: { a: 'b', x: '<y&z>' }, MountCount: 0 },
  ];
  const base = {
    rows,
    headers: { Name: 'volume name' },
    name: 'ls',
    defaultColumns: [
      { header: 'DRIVER', field: (v: (typeof rows)[number]) => v.Driver },
      { header: 'VOLUME NAME', field: (v: (typeof rows)[number]) => v.Name },
    ],
  };

  test.each<[string, string]>([
    ['', 'DRIVER      VOLUME NAME\nlocal       tspodfmt-a-much-longer-volume-name\nlocal       tspodfmtvol1\n'],
    [
      'table {{.Name}} {{.Driver}}\\t{{.Labels}}',
      'VOLUME NAME                         DRIVER      LABELS\n' +
        'tspodfmt-a-much-longer-volume-name  local       map[]\n' +
        'tspodfmtvol1                        local       map[a:b x:<y&z>]\n',
    ],
    ['{{.Name}}\\t{{.Driver}}', 'tspodfmt-a-much-longer-volume-name\tlocal\ntspodfmtvol1\tlocal\n'],
    ['{{json .Labels}}', '{}\n{"a":"b","x":"<y&z>"}\n'],
    ['{{range .}}{{.Name}},{{end}}', 'tspodfmt-a-much-longer-volume-name,tspodfmtvol1,\n'],
    // "\n" inside quotes breaks the normalized parse; podman falls back to the text as typed
    ['{{printf "%s\\n" .Name}}|', 'tspodfmt-a-much-longer-volume-name\n|tspodfmtvol1\n|'],
    [
      'table {{.Name}} {{printf "%s %s" .Driver "x"}}',
      'VOLUME NAME                         DRIVER      x\n' +
        'tspodfmt-a-much-longer-volume-name  local       x\n' +
        'tspodfmtvol1                        local       x\n',
    ],
    [
      'table {{.Name}} {{.Driver | upper}} {{.MountCount}}',
      'VOLUME NAME                         DRIVER      MOUNT COUNT\n' +
        'tspodfmt-a-much-longer-volume-name  LOCAL       0\n' +
        'tspodfmtvol1                        LOCAL       0\n',
    ],
  ])('%j', (format, want) => {
    expect(formatOutput({ ...base, format })).toBe(want);
  });

  test('json is an indented array with HTML escaping, like json.MarshalIndent', () => {
    const out = formatOutput({ ...base, format: 'json', rows: rows.slice(1) });
    expect(out).toBe(
      '[\n    {\n        "Name": "tspodfmtvol1",\n        "Driver": "local",\n        "Labels": {\n' +
        '            "a": "b",\n            "x": "\\u003cy\\u0026z\\u003e"\n        },\n        "MountCount": 0\n    }\n]\n',
    );
    expect(formatOutput({ ...base, format: 'json', rows: [] })).toBe('[]\n');
    expect(formatOutput({ ...base, format: '{{json}}', json: (r) => r.map((x) => x.Name) })).toBe(
      '[\n    "tspodfmt-a-much-longer-volume-name",\n    "tspodfmtvol1"\n]\n',
    );
  });

  test('{{json .}} prints one compact object per row', () => {
    expect(formatOutput({ ...base, format: '{{json .}}', rows: rows.slice(1) })).toBe(
      '{"Name":"tspodfmtvol1","Driver":"local","Labels":{"a":"b","x":"<y&z>"},"MountCount":0}\n',
    );
  });

  test('noHeading, empty lists', () => {
    expect(formatOutput({ ...base, format: 'table {{.Name}}', noHeading: true })).toBe('tspodfmt-a-much-longer-volume-name\ntspodfmtvol1\n');
    expect(formatOutput({ ...base, format: 'table {{.Name}}\t{{.Driver}}', rows: [] })).toBe('VOLUME NAME  DRIVER\n');
    expect(formatOutput({ ...base, format: '{{.Name}}', rows: [] })).toBe('');
    expect(formatOutput({ ...base, format: '', rows: [], noHeading: true })).toBe('');
  });

  test('headers come from the overrides, else from the field name', () => {
    const imgs = [{ ID: '0123456789ab', Repository: 'docker.io/library/alpine', CreatedAt: '2 hours ago' }];
    expect(formatOutput({ format: 'table {{.ID}} {{.Repository}}\\t{{.CreatedAt}}', rows: imgs, headers: { ID: 'IMAGE ID' } })).toBe(
      'IMAGE ID      REPOSITORY                CREATED AT\n0123456789ab  docker.io/library/alpine  2 hours ago\n',
    );
    // Podman's own default templates go through the same code: aligned, with headers
    expect(
      formatOutput({
        rows: imgs,
        defaultFormat: '{{if .Repository}}{{.Repository}}{{else}}<none>{{end}}\t{{.ID}}',
        headers: { ID: 'IMAGE ID' },
      }),
    ).toBe('REPOSITORY                IMAGE ID\ndocker.io/library/alpine  0123456789ab\n');
  });

  test('"table" alone means the default table', () => {
    expect(formatOutput({ ...base, format: 'table' })).toBe(formatOutput({ ...base, format: '' }));
  });

  test('bad templates fail with invalid-argument', () => {
    let err: unknown;
    try {
      formatOutput({ ...base, format: '{{.Name' });
    } catch (e) {
      err = e;
    }
    expect(isTspodError(err, 'invalid-argument')).toBe(true);
    // as in podman: the normalized text fails, and so does the raw one, whose error is shown
    expect((err as Error).message).toBe("template: ls:1: bad character U+007B '{'");
    expect(() => formatOutput({ ...base, format: '{{.Name.X}}' })).toThrow(
      'template: ls:1:13: executing "ls" at <.Name.X>: can\'t evaluate field X in type string',
    );
  });
});
