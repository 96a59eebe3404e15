import { defineCommand } from '../cli/command.js';

export default defineCommand<{ container: string }>({
  describe: 'Check if a container exists in local storage',
  positionals: [{ name: 'container', describe: 'container name or ID', required: true }],
  async run(args, ctx) {
    return { exitCode: (await ctx.engine()).containerExists(args.container) ? 0 : 1 };
  },
});
