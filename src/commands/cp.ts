import { defineCommand } from '../cli/command.js';

export default defineCommand<{ src: string; dest: string; archive: boolean; overwrite: boolean }>({
  describe: 'Copy files/folders between a container and the local filesystem',
  positionals: [
    { name: 'src', describe: 'CONTAINER:SRC_PATH, a host path, or - (a tar on stdin)', required: true },
    { name: 'dest', describe: 'CONTAINER:DEST_PATH, a host path, or - (a tar on stdout)', required: true },
  ],
  flags: {
    archive: { type: 'boolean', alias: 'a', default: true, describe: 'Chown copied files to the primary uid/gid of the destination container' },
    overwrite: { type: 'boolean', describe: 'Allow to overwrite directories with non-directories and vice versa' },
  },
  examples: [
    ['tspod cp web:/etc/nginx ./nginx', 'copy a directory out of a container'],
    ['tspod cp ./site.conf web:/etc/nginx/conf.d/', 'copy a file into a directory of a container'],
    ['tar -cf - app | tspod cp - web:/srv', 'extract a tar into a container'],
  ],
  async run(args, ctx) {
    const engine = await ctx.engine();
    await engine.copy(args.src, args.dest, {
      archive: args.archive !== false,
      overwrite: Boolean(args.overwrite),
      stdin: ctx.stdin,
      stdout: ctx.stdout,
    });
  },
});
