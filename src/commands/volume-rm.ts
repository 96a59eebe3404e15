import { defineCommand } from '../cli/command.js';
import { reportEach } from '../cli/report.js';
import { asTspodError, TspodError } from '../errors.js';
import * as volumes from '../engine/volumes.js';

interface Args {
  names: string[];
  all: boolean;
  force: boolean;
  time?: number;
}

export default defineCommand<Args>({
  describe: 'Remove one or more volumes',
  positionals: [{ name: 'names', describe: 'volumes to remove', variadic: true }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Remove all volumes' },
    force: { type: 'boolean', alias: 'f', describe: 'Remove a volume by force, even if it is being used by a container' },
    time: { type: 'number', alias: 't', describe: 'Seconds to wait for running containers to stop before killing the container', placeholder: 'uint' },
  },
  examples: [
    ['tspod volume rm myvol1 myvol2', 'remove two volumes'],
    ['tspod volume rm --force myvol', 'also remove the containers using it'],
  ],
  async run(args, ctx) {
    const names = args.names ?? [];
    if (Boolean(args.all) === names.length > 0) throw new TspodError('usage', 'choose either one or more volumes or all');
    const engine = await ctx.engine();
    const store = engine.store();
    const users = volumes.usersOf(engine);
    const targets = args.all ? volumes.listVolumes(store).map((v) => v.name) : names;
    const removeContainer = (id: string) => engine.removeContainer(id, { force: true, volumes: false, time: args.time });
    // Podman's exit codes: 1 no such volume, 2 in use (set by the engine), 125 anything else.
    return reportEach(ctx, targets, async (name) => {
      try {
        const r = await volumes.removeVolume(store, name, { force: args.force, removeContainer }, users);
        return r.removed ? name : undefined;
      } catch (e) {
        const te = asTspodError(e);
        if (te.code === 'no-such-volume') throw new TspodError(te.code, te.message, { exitCode: 1 });
        throw te;
      }
    });
  },
});
