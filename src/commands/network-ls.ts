import { defineCommand } from '../cli/command.js';
import { formatList, type Column } from '../cli/output.js';
import { TspodError } from '../errors.js';
import { listNetworks, matchesFilters, toInspect } from '../engine/networks.js';

interface Args {
  filter?: string[];
  format?: string;
  noheading: boolean;
  quiet: boolean;
  'no-trunc': boolean;
}

interface Row {
  ID: string;
  Name: string;
  Driver: string;
  Labels: Record<string, string>;
}

const isJson = (format: string): boolean => /^\s*(json|\{\{\s*json\s*\.?\s*\}\})\s*$/.test(format);

export default defineCommand<Args>({
  describe: 'List networks',
  flags: {
    filter: { type: 'array', alias: 'f', describe: 'Provide filter values (name=, id=, driver=, label=)', placeholder: 'strings' },
    format: { type: 'string', describe: 'Pretty-print networks to JSON or using a Go template', placeholder: 'string' },
    noheading: { type: 'boolean', describe: 'Do not print headers' },
    'no-trunc': { type: 'boolean', describe: 'Do not truncate the network ID' },
    quiet: { type: 'boolean', alias: 'q', describe: 'display only names' },
  },
  async run(args, ctx) {
    if (args.quiet && args.format) throw new TspodError('usage', 'quiet and format flags cannot be used together');
    const store = (await ctx.engine()).store();
    const filters = (args.filter ?? []).flatMap((f) => String(f).split(','));
    const nets = listNetworks(store).filter((n) => matchesFilters(n, filters));
    if (args.format && isJson(args.format)) return { stdout: `${JSON.stringify(nets.map(toInspect), null, 2)}\n` };
    if (args.quiet) return { stdout: nets.map((n) => `${n.name}\n`).join('') };
    const rows: Row[] = nets.map((n) => ({ ID: args['no-trunc'] ? n.id : n.id.slice(0, 12), Name: n.name, Driver: n.driver, Labels: n.labels }));
    const columns: Column<Row>[] = [
      { header: 'NETWORK ID', field: 'ID' },
      { header: 'NAME', field: 'Name' },
      { header: 'DRIVER', field: 'Driver' },
    ];
    return { stdout: formatList(args.format, rows, columns, { noHeading: args.noheading, name: 'ls' }) };
  },
});
