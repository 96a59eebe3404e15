import { defineCommand } from '../cli/command.js';
import { renderTemplate, toYaml } from '../cli/output.js';

export default defineCommand<{ format?: string }>({
  describe: 'Display tspod related system information',
  flags: { format: { type: 'string', alias: 'f', describe: 'Change the output format to JSON or a Go template', placeholder: 'string' } },
  async run(args, ctx) {
    const info = await (await ctx.engine()).info();
    if (args.format) return { stdout: renderTemplate(args.format, info) };
    return { stdout: toYaml(info) };
  },
});
