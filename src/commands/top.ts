import { defineCommand } from '../cli/command.js';
import { tabwrite } from '../format/tabwriter.js';

export default defineCommand<{ container: string; descriptors?: string[] }>({
  describe: 'Display the running processes of a container',
  positionals: [
    { name: 'container', describe: 'container to list the processes of', required: true },
    { name: 'descriptors', describe: 'format descriptors (user pid ppid pcpu etime tty time args comm ...), or ps(1) options', variadic: true },
  ],
  haltAtNonOption: true,
  examples: [
    ['tspod top web', 'the default columns'],
    ['tspod top web pid,user,args', 'chosen columns'],
  ],
  async run(args, ctx) {
    const engine = await ctx.engine();
    const r = await engine.topContainer(args.container, (args.descriptors ?? []).map(String));
    if ('text' in r) return { stdout: r.text };
    return { stdout: tabwrite(`${r.rows.map((row) => row.join('\t')).join('\n')}\n`) };
  },
});
