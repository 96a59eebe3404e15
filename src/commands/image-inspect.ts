import { defineCommand } from '../cli/command.js';
import { inspectJson, renderTemplate } from '../cli/output.js';
import { formatError, TspodError } from '../errors.js';

export default defineCommand<{ images: string[]; format?: string }>({
  describe: 'Display the configuration of an image',
  positionals: [{ name: 'images', describe: 'images to inspect', required: true, variadic: true }],
  flags: { format: { type: 'string', alias: 'f', describe: 'Format the output to a Go template or json', placeholder: 'string' } },
  async run(args, ctx) {
    const { found, errors } = (await ctx.engine()).inspectImages(args.images);
    let stdout = '';
    if (!args.format || args.format === 'json') stdout = inspectJson(found);
    else stdout = found.map((f) => renderTemplate(args.format!, f)).join('');
    for (const e of errors) ctx.stderr.write(`${formatError(new TspodError((e as TspodError).code ?? 'internal', `inspecting object: ${e.message}`))}\n`);
    return { stdout, exitCode: errors.length ? 125 : 0 };
  },
});
