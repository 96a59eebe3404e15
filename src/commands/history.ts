import { defineCommand } from '../cli/command.js';
import { formatList, type Column } from '../cli/output.js';
import { humanSize, timeAgo } from '../format/units.js';

interface Row {
  ID: string;
  Created: string;
  CreatedAt: string;
  CreatedBy: string;
  Size: string;
  Comment: string;
  Tags: string[] | null;
}

export default defineCommand<{ image: string; human: boolean; 'no-trunc': boolean; quiet: boolean; format?: string; noheading: boolean }>({
  describe: 'Show history of a specified image',
  positionals: [{ name: 'image', describe: 'image name or ID', required: true }],
  flags: {
    human: { type: 'boolean', alias: 'H', describe: 'Display sizes and dates in human readable format', default: true },
    'no-trunc': { type: 'boolean', describe: 'Do not truncate the output' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Display the numeric IDs only' },
    format: { type: 'string', describe: 'Change the output to JSON or a Go template', placeholder: 'string' },
    noheading: { type: 'boolean', alias: 'n', describe: 'Do not print column headings' },
  },
  async run(args, ctx) {
    const entries = (await ctx.engine()).imageHistory(args.image);
    const trunc = !args['no-trunc'];
    if (args.quiet) return { stdout: entries.map((e) => `${trunc && e.id !== '<missing>' ? e.id.slice(0, 12) : e.id}\n`).join('') };
    const rows: Row[] = entries.map((e) => {
      const by = trunc ? e.createdBy.replace(/\s+/g, ' ') : e.createdBy;
      return {
        ID: trunc && e.id !== '<missing>' ? e.id.slice(0, 12) : e.id,
        Created: args.human ? timeAgo(new Date(e.created)) : e.created,
        CreatedAt: e.created,
        CreatedBy: trunc && by.length > 45 ? `${by.slice(0, 44)}…` : by,
        Size: args.human ? humanSize(e.size) : String(e.size),
        Comment: e.comment,
        Tags: e.tags,
      };
    });
    const columns: Column<Row>[] = [
      { header: 'ID', field: 'ID' },
      { header: 'CREATED', field: 'Created' },
      { header: 'CREATED BY', field: 'CreatedBy' },
      { header: 'SIZE', field: 'Size' },
      { header: 'COMMENT', field: 'Comment' },
    ];
    const json = (): unknown => entries.map((e) => ({ id: e.id, created: e.created, CreatedBy: e.createdBy, size: e.size, comment: e.comment, tags: e.tags }));
    return { stdout: formatList(args.format, rows, columns, { noHeading: args.noheading, name: 'history', json }) };
  },
});
