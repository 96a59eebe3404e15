import { defineCommand } from '../cli/command.js';
import { formatList, type Column } from '../cli/output.js';
import { humanDuration, humanSizeWithPrecision, timeAgo, formatRFC3339Nano } from '../format/units.js';
import { TspodError } from '../errors.js';
import type { ContainerRecord } from '../storage/containers.js';
import { formatPorts } from '../network/ports.js';

interface Args {
  all: boolean;
  quiet: boolean;
  latest: boolean;
  last?: number;
  'no-trunc': boolean;
  noheading: boolean;
  format?: string;
  filter?: string[];
  size: boolean;
}

interface Row {
  ID: string;
  Id: string;
  Image: string;
  ImageID: string;
  Command: string;
  Created: string;
  CreatedHuman: string;
  CreatedAt: string;
  Status: string;
  State: string;
  Ports: string;
  Names: string;
  Labels: Record<string, string>;
  ExitCode: number;
  Pid: number;
  Size: string;
  Mounts: string;
}

function statusOf(c: ContainerRecord, now: Date): string {
  switch (c.state.status) {
    case 'running':
      return `Up ${humanDuration(now.getTime() - Date.parse(c.state.startedAt ?? c.created))} ago`;
    case 'paused':
      return 'Paused';
    case 'exited':
    case 'stopped':
      return `Exited (${c.state.exitCode}) ${c.state.finishedAt ? timeAgo(new Date(c.state.finishedAt), now) : ''}`.trimEnd();
    default:
      return 'Created';
  }
}

function matches(c: ContainerRecord, image: string, key: string, value: string): boolean {
  switch (key) {
    case 'name':
      try {
        return new RegExp(value).test(c.name);
      } catch {
        return c.name.includes(value);
      }
    case 'id':
      return c.id.startsWith(value);
    case 'status':
      return (c.state.status === 'stopped' ? 'exited' : c.state.status) === value;
    case 'label': {
      const eq = value.indexOf('=');
      return eq === -1 ? value in c.config.labels : c.config.labels[value.slice(0, eq)] === value.slice(eq + 1);
    }
    case 'ancestor':
      return image === value || image.endsWith(`/${value}`) || image.split(':')[0]!.endsWith(`/${value}`) || c.imageId.startsWith(value) || c.imageName === value;
    case 'exited':
      return c.state.status === 'exited' && String(c.state.exitCode) === value;
    default:
      throw new TspodError('invalid-argument', `invalid filter "${key}"`, { hint: 'Supported: name, id, status, label, ancestor, exited' });
  }
}

export default defineCommand<Args>({
  describe: 'List containers',
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Show all the containers, default is only running containers' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Print the numeric IDs of the containers only' },
    latest: { type: 'boolean', alias: 'l', describe: 'Act on the latest container tspod is aware of' },
    last: { type: 'number', alias: 'n', describe: 'Print the n last created containers (all states)', placeholder: 'int' },
    'no-trunc': { type: 'boolean', describe: 'Display the extended information' },
    noheading: { type: 'boolean', describe: 'Do not print headers' },
    format: { type: 'string', describe: 'Pretty-print containers to JSON or using a Go template', placeholder: 'string' },
    filter: { type: 'array', alias: 'f', describe: 'Filter output based on conditions given', placeholder: 'filter' },
    size: { type: 'boolean', alias: 's', describe: 'Display the total file sizes' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const images = new Map(engine.store().images().map((i) => [i.id, i.names[0] ?? i.id.slice(0, 12)]));
    let list = (await engine.listContainers()).sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
    const filters = (args.filter ?? []).map((f) => {
      const eq = f.indexOf('=');
      if (eq <= 0) throw new TspodError('invalid-argument', `invalid filter "${f}": expected key=value`);
      return [f.slice(0, eq), f.slice(eq + 1)] as const;
    });
    const showAll = args.all || args.latest || args.last !== undefined || filters.some(([k]) => k === 'status' || k === 'exited');
    if (!showAll) list = list.filter((c) => c.state.status === 'running' || c.state.status === 'paused');
    const byKey = new Map<string, string[]>();
    for (const [k, v] of filters) byKey.set(k, [...(byKey.get(k) ?? []), v]);
    list = list.filter((c) => [...byKey].every(([k, vs]) => vs.some((v) => matches(c, images.get(c.imageId) ?? c.imageName, k, v))));
    if (args.latest) list = list.slice(0, 1);
    if (args.last !== undefined && args.last >= 0) list = list.slice(0, args.last);
    if (args.quiet) return { stdout: list.map((c) => `${args['no-trunc'] ? c.id : c.id.slice(0, 12)}\n`).join('') };
    const imageSize = new Map(engine.store().images().map((i) => [i.id, i.size]));
    // podman's SIZE: what the container wrote, then that plus its image.
    const sizeOf = (c: ContainerRecord): string => {
      const rw = engine.containerDiskUsage(c.id);
      return `${humanSizeWithPrecision(rw, 3)} (virtual ${humanSizeWithPrecision(rw + (imageSize.get(c.imageId) ?? 0), 3)})`;
    };
    const now = new Date();
    const rows: Row[] = list.map((c) => {
      const cmd = (c.resolved?.args ?? [...(c.config.entrypoint ?? []), ...c.config.command]).join(' ');
      return {
        ID: args['no-trunc'] ? c.id : c.id.slice(0, 12),
        Id: c.id,
        Image: images.get(c.imageId) ?? c.imageName,
        ImageID: c.imageId,
        Command: !args['no-trunc'] && cmd.length > 20 ? `${cmd.slice(0, 17)}...` : cmd,
        Created: timeAgo(new Date(c.created), now),
        CreatedHuman: timeAgo(new Date(c.created), now),
        CreatedAt: formatRFC3339Nano(new Date(c.created)),
        Status: statusOf(c, now),
        State: c.state.status === 'stopped' ? 'exited' : c.state.status,
        Ports: formatPorts(c.config.portMappings),
        Names: c.name,
        Labels: c.config.labels,
        ExitCode: c.state.exitCode,
        Pid: c.state.status === 'running' || c.state.status === 'paused' ? c.state.pid : 0,
        Size: args.size ? sizeOf(c) : '',
        Mounts: c.config.mounts.map((m) => m.destination).join(','),
      };
    });
    const columns: Column<Row>[] = [
      { header: 'CONTAINER ID', field: 'ID' },
      { header: 'IMAGE', field: 'Image' },
      { header: 'COMMAND', field: 'Command' },
      { header: 'CREATED', field: 'Created' },
      { header: 'STATUS', field: 'Status' },
      { header: 'PORTS', field: 'Ports' },
      { header: 'NAMES', field: 'Names' },
      ...(args.size ? [{ header: 'SIZE', field: 'Size' as const }] : []),
    ];
    const json = (): unknown =>
      list.map((c) => ({
        AutoRemove: c.config.autoRemove,
        Command: c.resolved?.args ?? [...(c.config.entrypoint ?? []), ...c.config.command],
        Created: Math.floor(Date.parse(c.created) / 1000),
        CreatedAt: timeAgo(new Date(c.created), now),
        Exited: c.state.status === 'exited',
        ExitCode: c.state.exitCode,
        Id: c.id,
        Image: images.get(c.imageId) ?? c.imageName,
        ImageID: c.imageId,
        Labels: Object.keys(c.config.labels).length ? c.config.labels : null,
        Mounts: c.config.mounts.map((m) => m.destination),
        Names: [c.name],
        // the record keeps the last pid after an exit; like inspect, show it only while it runs
        Pid: c.state.status === 'running' || c.state.status === 'paused' ? c.state.pid : 0,
        Ports: c.config.portMappings?.length
          ? c.config.portMappings.map((p) => ({ host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: p.range, protocol: p.protocol }))
          : null,
        StartedAt: c.state.startedAt ? Math.floor(Date.parse(c.state.startedAt) / 1000) : 0,
        State: c.state.status === 'stopped' ? 'exited' : c.state.status,
        Status: statusOf(c, now),
      }));
    return { stdout: formatList(args.format, rows, columns, { noHeading: args.noheading, name: 'ps', json }) };
  },
});
