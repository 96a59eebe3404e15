import { defineCommand } from '../cli/command.js';
import { renderTemplate } from '../cli/output.js';

export default defineCommand<{ format?: string }>({
  describe: 'Display the tspod version information',
  flags: { format: { type: 'string', alias: 'f', describe: 'Change the output format to JSON or a Go template', placeholder: 'string' } },
  async run(args, ctx) {
    const v = await (await ctx.engine()).version();
    if (args.format) return { stdout: renderTemplate(args.format, v) };
    const c = v.Client;
    const lines = [
      'Client:       tspod',
      `Version:      ${c.Version}`,
      `API Version:  ${c.APIVersion}`,
      `Node Version: ${c.NodeVersion}`,
      `OCI Runtime:  ${c.Runtime.Name} ${c.Runtime.Version}`.trimEnd(),
      `OS/Arch:      ${c.OsArch}`,
    ];
    return { stdout: `${lines.join('\n')}\n` };
  },
});
