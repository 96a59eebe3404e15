import { defineCommand } from '../cli/command.js';
import * as volumes from '../engine/volumes.js';

interface Args {
  name?: string;
  driver?: string;
  label?: string[];
  opt?: string[];
  ignore: boolean;
}

/** `--label` is a comma-separated list in podman (pflag StringSlice); `--opt` is not. */
function splitCommas(list: readonly string[] | undefined): string[] {
  return (list ?? []).flatMap((l) => l.split(','));
}

export default defineCommand<Args>({
  describe: 'Create a new volume',
  positionals: [{ name: 'name', describe: 'volume name (default: a random 64-character hex name)' }],
  flags: {
    driver: { type: 'string', alias: 'd', describe: 'Specify volume driver name', default: 'local', placeholder: 'string' },
    label: { type: 'array', alias: 'l', describe: 'Set metadata for a volume (e.g. --label mykey=value)', placeholder: 'strings' },
    opt: { type: 'array', alias: 'o', describe: 'Set driver specific options', placeholder: 'stringArray' },
    ignore: { type: 'boolean', describe: "Don't fail if volume already exists" },
  },
  examples: [
    ['tspod volume create myvol', 'create a volume named myvol'],
    ['tspod volume create --label foo=bar myvol', 'with a label'],
  ],
  async run(args, ctx) {
    const rec = await volumes.createVolume((await ctx.engine()).store(), {
      name: args.name,
      driver: args.driver,
      labels: volumes.parseLabels(splitCommas(args.label)),
      options: volumes.parseVolumeOptions((args.opt ?? []).map(String)),
      ignoreIfExists: args.ignore,
    });
    return { stdout: `${rec.name}\n` };
  },
});
