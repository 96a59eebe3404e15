import { defineCommand } from '../cli/command.js';
import { formatList, type Column } from '../cli/output.js';
import { humanSize, timeAgo, formatRFC3339Nano } from '../format/units.js';
import type { ImageSummary } from '../engine/index.js';

interface Args {
  image?: string;
  all: boolean;
  quiet: boolean;
  digests: boolean;
  'no-trunc': boolean;
  noheading: boolean;
  format?: string;
  filter?: string[];
  sort?: string;
}

/** One row per name (podman's `images` table), `<none>` for dangling images. */
export interface ImageRow {
  ID: string;
  Id: string;
  Repository: string;
  Tag: string;
  Digest: string;
  Created: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
  Names: string[];
  Labels: Record<string, string> | null;
  Dangling: boolean;
  ReadOnly: boolean;
  Containers: number;
  History: string[];
  VirtualSize: string;
}

function rowsFor(img: ImageSummary, noTrunc: boolean): ImageRow[] {
  const created = new Date(img.created);
  const base = {
    ID: noTrunc ? `sha256:${img.id}` : img.id.slice(0, 12),
    Id: img.id,
    Digest: img.digest,
    Created: timeAgo(created),
    CreatedAt: formatRFC3339Nano(created),
    CreatedSince: timeAgo(created),
    Size: humanSize(img.size),
    VirtualSize: humanSize(img.size),
    Names: img.names,
    Labels: img.labels,
    Dangling: img.dangling,
    ReadOnly: false,
    Containers: 0,
    History: img.record.namesHistory ?? [],
  };
  if (img.names.length === 0) return [{ ...base, Repository: '<none>', Tag: '<none>' }];
  return img.names.map((n) => {
    const slash = n.lastIndexOf('/');
    const colon = n.lastIndexOf(':');
    return colon > slash ? { ...base, Repository: n.slice(0, colon), Tag: n.slice(colon + 1) } : { ...base, Repository: n, Tag: '<none>' };
  });
}

/** podman images --format json: one object per image. */
function jsonFor(img: ImageSummary): Record<string, unknown> {
  return {
    Id: img.id,
    ParentId: '',
    RepoTags: img.names.length ? img.names : null,
    RepoDigests: img.repoDigests,
    Size: img.size,
    SharedSize: 0,
    VirtualSize: img.size,
    Labels: img.labels,
    Containers: 0,
    Names: img.names.length ? img.names : undefined,
    Digest: img.digest,
    History: img.record.namesHistory,
    Created: Math.floor(Date.parse(img.created) / 1000),
    CreatedAt: img.created,
  };
}

export default defineCommand<Args>({
  describe: 'List images in local storage',
  positionals: [{ name: 'image', describe: 'show only images matching this reference' }],
  flags: {
    all: { type: 'boolean', alias: 'a', describe: 'Show all images (default hides intermediate images)' },
    quiet: { type: 'boolean', alias: 'q', describe: 'Display only image IDs' },
    digests: { type: 'boolean', describe: 'Show digests' },
    'no-trunc': { type: 'boolean', describe: 'Do not truncate output' },
    noheading: { type: 'boolean', alias: 'n', describe: 'Do not print column headings' },
    format: { type: 'string', describe: "Change the output format to JSON or a Go template", placeholder: 'string' },
    filter: { type: 'array', alias: 'f', describe: 'Filter output based on conditions provided (reference=, dangling=, label=, before=, since=)', placeholder: 'filters' },
    sort: { type: 'string', describe: 'Sort by created, id, repository, size or tag', default: 'created', choices: ['created', 'id', 'repository', 'size', 'tag'] },
  },
  async run(args, ctx) {
    const filters = [...(args.filter ?? [])];
    if (args.image) filters.push(`reference=${args.image}`);
    const images = (await ctx.engine()).listImages({ all: args.all, filters });
    if (args.quiet) {
      const ids = [...new Set(images.map((i) => (args['no-trunc'] ? `sha256:${i.id}` : i.id.slice(0, 12))))];
      return { stdout: ids.map((i) => `${i}\n`).join('') };
    }
    let rows = images.flatMap((i) => rowsFor(i, args['no-trunc']));
    const sorters: Record<string, (a: ImageRow, b: ImageRow) => number> = {
      id: (a, b) => a.ID.localeCompare(b.ID),
      repository: (a, b) => a.Repository.localeCompare(b.Repository) || a.Tag.localeCompare(b.Tag),
      tag: (a, b) => a.Tag.localeCompare(b.Tag),
      size: (a, b) => images.find((i) => i.id === a.Id)!.size - images.find((i) => i.id === b.Id)!.size,
    };
    if (args.sort && sorters[args.sort]) rows = [...rows].sort(sorters[args.sort]);
    const columns: Column<ImageRow>[] = [
      { header: 'REPOSITORY', field: 'Repository' },
      { header: 'TAG', field: 'Tag' },
      ...(args.digests ? [{ header: 'DIGEST', field: 'Digest' as const }] : []),
      { header: 'IMAGE ID', field: 'ID' },
      { header: 'CREATED', field: 'Created' },
      { header: 'SIZE', field: 'Size' },
    ];
    return { stdout: formatList(args.format, rows, columns, { noHeading: args.noheading, name: 'images', json: () => images.map(jsonFor) }) };
  },
});
