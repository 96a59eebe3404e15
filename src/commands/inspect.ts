import { defineCommand } from '../cli/command.js';
import { inspectJson, renderTemplate } from '../cli/output.js';
import { TspodError, formatError } from '../errors.js';

// Generic inspect: looks each name up as a container, then an image (podman's order).
// Containers arrive with the containers issue; until then images only.
export default defineCommand<{ names: string[]; format?: string; type: string }>({
  describe: 'Display the configuration of object denoted by ID',
  positionals: [{ name: 'names', describe: 'names or IDs of objects', required: true, variadic: true }],
  flags: {
    format: { type: 'string', alias: 'f', describe: 'Format the output to a Go template or json', placeholder: 'string' },
    type: { type: 'string', alias: 't', describe: 'Specify inspect-object type', default: 'all', choices: ['all', 'image', 'container', 'volume', 'network', 'pod'] },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const found: unknown[] = [];
    let exitCode = 0;
    for (const name of args.names) {
      if (args.type === 'all' || args.type === 'container') {
        if (engine.containerExists(name)) {
          found.push(await engine.inspectContainer(name));
          continue;
        }
      }
      const r = engine.inspectImages([name]);
      if (r.found.length && (args.type === 'all' || args.type === 'image')) found.push(r.found[0]);
      else {
        const msg = args.type === 'image' ? `${name}: image not known` : `no such ${args.type === 'all' ? 'object' : args.type}: "${name}"`;
        ctx.stderr.write(`${formatError(new TspodError('no-such-image', `inspecting object: ${msg}`))}\n`);
        exitCode = 125;
      }
    }
    const stdout = !args.format || args.format === 'json' ? inspectJson(found) : found.map((f) => renderTemplate(args.format!, f)).join('');
    return { stdout, exitCode };
  },
});
