import { defineCommand } from '../cli/command.js';

export default defineCommand<{ containers: string[]; all: boolean; noStream: boolean; format?: string; noReset: boolean; interval?: number }>({
  describe: 'Display a live stream of container resource usage statistics',
  positionals: [{ name: 'containers', describe: 'containers (default: the running ones)', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Show all containers. Only running containers are shown by default' },
    'no-stream': { type: 'boolean', describe: 'Disable streaming stats and only pull the first result' },
    'no-reset': { type: 'boolean', describe: 'Disable resetting the screen between intervals' },
    format: { type: 'string', describe: 'Pretty-print container statistics to JSON or using a Go template', placeholder: 'string' },
    interval: { type: 'number', alias: 'i', describe: 'Time in seconds between stats reports', placeholder: 'int' },
  },
  async run(_args, ctx) {
    // Rootless stats read the container's cgroup, which needs cgroups v2 (podman refuses the same way).
    await (await ctx.engine()).checkStats();
  },
});
