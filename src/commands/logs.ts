import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';

interface Args {
  containers: string[];
  follow: boolean;
  tail?: number;
  since?: string;
  until?: string;
  timestamps: boolean;
  latest: boolean;
  names: boolean;
}

export default defineCommand<Args>({
  describe: 'Fetch the logs of one or more containers',
  positionals: [{ name: 'containers', describe: 'containers', variadic: true }],
  flags: {
    follow: { type: 'boolean', alias: 'f', describe: 'Follow log output' },
    tail: { type: 'number', describe: 'Output the specified number of lines at the end of logs (-1: all)', placeholder: 'int' },
    since: { type: 'string', describe: 'Show logs since TIMESTAMP (RFC 3339, unix seconds, or a duration like 10m)', placeholder: 'string' },
    until: { type: 'string', describe: 'Show logs until TIMESTAMP', placeholder: 'string' },
    timestamps: { type: 'boolean', alias: 't', describe: 'Output the timestamps in the log' },
    latest: { type: 'boolean', alias: 'l', describe: 'Act on the latest container tspod is aware of' },
    names: { type: 'boolean', alias: 'n', describe: 'Output the container name in the log' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    let names = args.containers ?? [];
    if (args.latest) {
      const all = (await engine.listContainers()).sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
      if (!all[0]) throw new TspodError('no-such-container', 'no containers');
      names = [all[0].id];
    }
    if (!names.length) throw new TspodError('usage', 'requires at least 1 arg(s), only received 0');
    const { streamLogs } = await import('../engine/logs.js');
    await streamLogs(engine, names, {
      follow: args.follow,
      tail: args.tail,
      since: args.since,
      until: args.until,
      timestamps: args.timestamps,
      // podman: with several containers each line starts with the short ID, or the name with --names
      prefix: names.length < 2 ? 'none' : args.names ? 'name' : 'id',
      stdout: ctx.stdout,
      stderr: ctx.stderr,
    });
  },
});
