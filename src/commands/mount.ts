import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';

export default defineCommand<{ containers: string[]; notruncate: boolean; format?: string; all: boolean }>({
  describe: "Mount a working container's root filesystem",
  positionals: [{ name: 'containers', describe: 'containers to mount (none: list the mounted ones)', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Mount all containers' },
    notruncate: { type: 'boolean', alias: 'no-trunc', describe: 'Do not truncate output' },
    format: { type: 'string', describe: 'Print the mounted containers in the specified format (json)', placeholder: 'format' },
  },
  examples: [['tspod unshare sh -c \'ls "$(tspod mount web)"/etc\'', "list a container's /etc"]],
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.all) names = (await engine.listContainers()).map((c) => c.id);
    if (names.length) return reportEach(ctx, names, (c) => engine.mountContainer(c));
    const mounted = await engine.listMountedContainers();
    if (args.format === 'json') {
      const rows = mounted.map((m) => ({ id: m.id, Names: m.names, mountpoint: m.mountpoint }));
      return { stdout: `${JSON.stringify(rows, null, 1)}\n` };
    }
    return { stdout: mounted.map((m) => `${args.notruncate ? m.id : m.id.slice(0, 12)}  ${m.mountpoint}\n`).join('') };
  },
});
