import { defineCommand } from '../cli/command.js';

export default defineCommand<{ image: string }>({
  describe: 'Check if an image exists in local storage',
  positionals: [{ name: 'image', describe: 'image name or ID', required: true }],
  async run(args, ctx) {
    return { exitCode: (await ctx.engine()).imageExists(args.image) ? 0 : 1 };
  },
});
