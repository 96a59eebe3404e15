import { defineCommand } from '../cli/command.js';

export default defineCommand<{ image: string; names: string[] }>({
  describe: 'Add an additional name to a local image',
  positionals: [
    { name: 'image', describe: 'image to tag', required: true },
    { name: 'names', describe: 'new names', required: true, variadic: true },
  ],
  examples: [['tspod tag alpine:3.15 localhost/mine:v1', 'give an image another name']],
  async run(args, ctx) {
    await (await ctx.engine()).tagImage(args.image, args.names);
  },
});
