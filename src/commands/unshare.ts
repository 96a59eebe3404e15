import { defineCommand } from '../cli/command.js';

export default defineCommand<{ command: string[] }>({
  describe: 'Run a command in a modified user namespace',
  positionals: [{ name: 'command', describe: 'command to run (default: $SHELL)', variadic: true }],
  haltAtNonOption: true,
  examples: [['tspod unshare cat /proc/self/uid_map', 'show the id mapping tspod uses']],
  async run(args, ctx) {
    return { exitCode: await (await ctx.engine()).unshare(args.command ?? []) };
  },
});
