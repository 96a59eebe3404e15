// Every subcommand, with the paths it answers to. Aliases are registrations of the same module,
// never copies. Modules load lazily: only the one that runs is parsed.
import type { CommandSpec } from '../cli/command.js';

export interface CommandEntry {
  /** Canonical path first, then aliases (`image ls` = `images`). */
  paths: string[];
  describe: string;
  load: () => Promise<{ default: CommandSpec<any> }>;
  /** Group heading in `tspod --help`. */
  group?: 'image' | 'container' | 'system' | 'volume' | 'network';
}

export const COMMANDS: CommandEntry[] = [
  { paths: ['version'], describe: 'Display the tspod version information', load: () => import('./version.js') },
  { paths: ['info', 'system info'], describe: 'Display tspod related system information', load: () => import('./info.js') },
  { paths: ['pull', 'image pull'], describe: 'Pull an image from a registry', load: () => import('./pull.js') },
  { paths: ['images', 'image ls', 'image list'], describe: 'List images in local storage', load: () => import('./images.js') },
  { paths: ['rmi', 'image rm', 'image remove'], describe: 'Remove one or more images from local storage', load: () => import('./rmi.js') },
  { paths: ['tag', 'image tag'], describe: 'Add an additional name to a local image', load: () => import('./tag.js') },
  { paths: ['untag', 'image untag'], describe: 'Remove a name from a local image', load: () => import('./untag.js') },
  { paths: ['image inspect'], describe: 'Display the configuration of an image', load: () => import('./image-inspect.js') },
  { paths: ['inspect'], describe: 'Display the configuration of object denoted by ID', load: () => import('./inspect.js') },
  { paths: ['image history', 'history'], describe: 'Show history of a specified image', load: () => import('./history.js') },
  { paths: ['image prune'], describe: 'Remove unused images', load: () => import('./image-prune.js') },
  { paths: ['image exists'], describe: 'Check if an image exists in local storage', load: () => import('./image-exists.js') },
  { paths: ['build', 'image build'], describe: 'Build an image using instructions from Containerfiles', load: () => import('./build.js') },
  { paths: ['push', 'image push'], describe: 'Push an image to a specified destination', load: () => import('./push.js') },
  { paths: ['save', 'image save'], describe: 'Save image(s) to an archive', load: () => import('./save.js') },
  { paths: ['load', 'image load'], describe: 'Load image(s) from a tar archive', load: () => import('./load.js') },
  { paths: ['import', 'image import'], describe: 'Import a tarball to create a filesystem image', load: () => import('./import.js') },
  { paths: ['commit', 'container commit'], describe: 'Create new image based on the changed container', load: () => import('./commit.js') },
  { paths: ['login'], describe: 'Log in to a container registry', load: () => import('./login.js') },
  { paths: ['logout'], describe: 'Log out of a container registry', load: () => import('./logout.js') },
  { paths: ['run', 'container run'], describe: 'Run a command in a new container', load: () => import('./run.js') },
  { paths: ['create', 'container create'], describe: 'Create but do not start a container', load: () => import('./create.js') },
  { paths: ['start', 'container start'], describe: 'Start one or more containers', load: () => import('./start.js') },
  { paths: ['stop', 'container stop'], describe: 'Stop one or more containers', load: () => import('./stop.js') },
  { paths: ['kill', 'container kill'], describe: 'Kill one or more running containers with a specific signal', load: () => import('./kill.js') },
  { paths: ['restart', 'container restart'], describe: 'Restart one or more containers', load: () => import('./restart.js') },
  { paths: ['rm', 'container rm', 'container remove'], describe: 'Remove one or more containers', load: () => import('./rm.js') },
  { paths: ['ps', 'container ls', 'container list', 'container ps'], describe: 'List containers', load: () => import('./ps.js') },
  { paths: ['logs', 'container logs'], describe: 'Fetch the logs of one or more containers', load: () => import('./logs.js') },
  { paths: ['wait', 'container wait'], describe: 'Block on one or more containers', load: () => import('./wait.js') },
  { paths: ['container inspect'], describe: 'Display the configuration of a container', load: () => import('./container-inspect.js') },
  { paths: ['rename', 'container rename'], describe: 'Rename an existing container', load: () => import('./rename.js') },
  { paths: ['container exists'], describe: 'Check if a container exists in local storage', load: () => import('./container-exists.js') },
  { paths: ['container cleanup'], describe: 'Clean up network and mountpoints of one or more containers', load: () => import('./container-cleanup.js') },
  { paths: ['cp', 'container cp'], describe: 'Copy files/folders between a container and the local filesystem', load: () => import('./cp.js') },
  { paths: ['export', 'container export'], describe: "Export a container's filesystem contents as a tar archive", load: () => import('./export.js') },
  { paths: ['diff', 'container diff', 'image diff'], describe: 'Inspect changes to the container or image filesystems', load: () => import('./diff.js') },
  { paths: ['mount', 'container mount'], describe: "Mount a working container's root filesystem", load: () => import('./mount.js') },
  { paths: ['umount', 'unmount', 'container umount', 'container unmount'], describe: "Unmount working container's root filesystem", load: () => import('./umount.js') },
  { paths: ['container prune'], describe: 'Remove all non running containers', load: () => import('./container-prune.js') },
  { paths: ['pause', 'container pause'], describe: 'Pause all the processes in one or more containers', load: () => import('./pause.js') },
  { paths: ['unpause', 'container unpause'], describe: 'Unpause the processes in one or more containers', load: () => import('./unpause.js') },
  { paths: ['stats', 'container stats'], describe: 'Display a live stream of container resource usage statistics', load: () => import('./stats.js') },
  { paths: ['exec', 'container exec'], describe: 'Run a process in a running container', load: () => import('./exec.js') },
  { paths: ['attach', 'container attach'], describe: 'Attach to a running container', load: () => import('./attach.js') },
  { paths: ['top', 'container top'], describe: 'Display the running processes of a container', load: () => import('./top.js') },
  { paths: ['port', 'container port'], describe: 'List port mappings or a specific mapping for the container', load: () => import('./port.js') },
  { paths: ['volume create'], describe: 'Create a new volume', group: 'volume', load: () => import('./volume-create.js') },
  { paths: ['volume ls', 'volume list'], describe: 'List volumes', group: 'volume', load: () => import('./volume-ls.js') },
  { paths: ['volume inspect'], describe: 'Display detailed information on one or more volumes', group: 'volume', load: () => import('./volume-inspect.js') },
  { paths: ['volume rm', 'volume remove'], describe: 'Remove one or more volumes', group: 'volume', load: () => import('./volume-rm.js') },
  { paths: ['volume prune'], describe: 'Remove all unused volumes', group: 'volume', load: () => import('./volume-prune.js') },
  { paths: ['volume exists'], describe: 'Check if a volume exists', group: 'volume', load: () => import('./volume-exists.js') },
  { paths: ['network create'], describe: 'Create a network', group: 'network', load: () => import('./network-create.js') },
  { paths: ['network ls', 'network list'], describe: 'List networks', group: 'network', load: () => import('./network-ls.js') },
  { paths: ['network inspect'], describe: 'Display the network configuration for one or more networks', group: 'network', load: () => import('./network-inspect.js') },
  { paths: ['network rm', 'network remove'], describe: 'Remove one or more networks', group: 'network', load: () => import('./network-rm.js') },
  { paths: ['network prune'], describe: 'Remove all unused networks', group: 'network', load: () => import('./network-prune.js') },
  { paths: ['network exists'], describe: 'Check if a network exists', group: 'network', load: () => import('./network-exists.js') },
  { paths: ['network connect'], describe: 'Add a container to a network', group: 'network', load: () => import('./network-connect.js') },
  { paths: ['network disconnect'], describe: 'Disconnect a container from a network', group: 'network', load: () => import('./network-disconnect.js') },
  { paths: ['unshare'], describe: 'Run a command in a modified user namespace', load: () => import('./unshare.js') },
];

/** Group commands (`tspod image`) list their subcommands when called bare. */
export const GROUPS: Record<string, string> = {
  image: 'Manage images',
  container: 'Manage containers',
  system: 'Manage tspod',
  volume: 'Manage volumes',
  network: 'Manage networks',
};
