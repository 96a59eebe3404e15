import { defineCommand } from '../cli/command.js';

interface Args {
  container: string;
  image?: string;
  change: string[];
  message?: string;
  author?: string;
  pause: boolean;
  quiet: boolean;
}

export default defineCommand<Args>({
  describe: "Create new image based on the changed container",
  positionals: [
    { name: 'container', describe: 'container to commit', required: true },
    { name: 'image', describe: 'name of the new image' },
  ],
  flags: {
    change: { type: 'array', alias: 'c', describe: 'Apply the following possible instructions to the created image (default []): CMD | ENTRYPOINT | ENV | EXPOSE | LABEL | ONBUILD | STOPSIGNAL | USER | VOLUME | WORKDIR', placeholder: 'Changes' },
    message: { type: 'string', alias: 'm', describe: 'Set commit message for imported image', placeholder: 'string' },
    author: { type: 'string', alias: 'a', describe: 'Set the author for the image committed', placeholder: 'string' },
    pause: { type: 'boolean', alias: 'p', describe: 'Pause container during commit', default: false },
    quiet: { type: 'boolean', alias: 'q', describe: 'Suppress output' },
  },
  examples: [['tspod commit web localhost/web:snapshot', "save a container's changes as an image"]],
  async run(args, ctx) {
    const engine = await ctx.engine();
    const id = await engine.commitContainer(args.container, args.image, {
      changes: args.change ?? [],
      message: args.message,
      author: args.author,
      pause: args.pause,
    });
    return { stdout: `${id}\n` };
  },
});
