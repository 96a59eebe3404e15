import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { TspodError } from '../errors.js';
import { defineCommand } from '../cli/command.js';
import { pullRenderer } from '../cli/progress.js';

interface Args {
  context?: string;
  tag: string[];
  file?: string;
  'build-arg': string[];
  target?: string;
  'no-cache': boolean;
  layers: boolean;
  label: string[];
  quiet: boolean;
  iidfile?: string;
  pull?: string;
  squash: boolean;
  'squash-all': boolean;
  platform?: string;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export default defineCommand<Args>({
  describe: 'Build an image using instructions from Containerfiles',
  positionals: [{ name: 'context', describe: 'build context directory' }],
  flags: {
    tag: { type: 'array', alias: 't', describe: 'Tagged name to apply to the built image', placeholder: 'name', default: [] },
    file: { type: 'string', alias: 'f', describe: 'Pathname or URL of a Containerfile ("-": standard input)', placeholder: 'Containerfile' },
    'build-arg': { type: 'array', describe: 'Argument=value pair for the build', placeholder: 'argument=value', default: [] },
    target: { type: 'string', describe: 'Set the target build stage to build', placeholder: 'string' },
    'no-cache': { type: 'boolean', describe: 'Do not use existing cached images for the container build', default: false },
    layers: { type: 'boolean', describe: 'Use intermediate images as a cache (default true)', default: true },
    label: { type: 'array', describe: 'Set metadata for an image (default [])', placeholder: 'label', default: [] },
    quiet: { type: 'boolean', alias: 'q', describe: 'Refrain from announcing build instructions and image read/write progress', default: false },
    iidfile: { type: 'string', describe: 'Write the image ID to the file', placeholder: 'file' },
    pull: { type: 'string', describe: 'Pull image policy ("always", "missing", "never")', placeholder: 'policy' },
    squash: { type: 'boolean', describe: "Squash all of the image's new layers into a single new layer", default: false },
    'squash-all': { type: 'boolean', describe: 'Squash all of the new image\'s layers (including those inherited from a base image) into a single new layer', default: false },
    platform: { type: 'string', describe: 'Set the OS/ARCH[/VARIANT] of the image to build (only the host\'s platform is supported)', placeholder: 'OS/ARCH[/VARIANT]' },
  },
  examples: [['tspod build -t localhost/app:1 .', 'build the Containerfile in the current directory']],
  async run(args, ctx) {
    const cwd = process.cwd();
    const contextDir = resolve(cwd, args.context ?? '.');
    if (!existsSync(contextDir) || !statSync(contextDir).isDirectory()) {
      throw new TspodError('invalid-argument', `the build context "${args.context ?? '.'}" is not a directory`);
    }
    let file: string;
    let text: string;
    if (args.file === '-') {
      file = '-';
      text = await readAll(ctx.stdin);
    } else {
      let path: string | undefined;
      if (args.file) path = isAbsolute(args.file) ? args.file : resolve(cwd, args.file);
      else path = ['Containerfile', 'Dockerfile'].map((n) => join(contextDir, n)).find((p) => existsSync(p));
      if (!path) throw new TspodError('invalid-argument', `no Containerfile or Dockerfile specified or found in context directory, ${contextDir}`);
      file = args.file ?? (path.endsWith('Dockerfile') ? 'Dockerfile' : 'Containerfile');
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        throw new TspodError('invalid-argument', `reading ${path}: ${(e as Error).message}`);
      }
    }
    const buildArgs: Record<string, string> = {};
    for (const a of args['build-arg'].map(String)) {
      const eq = a.indexOf('=');
      if (eq < 0) {
        const v = process.env[a];
        if (v !== undefined) buildArgs[a] = v;
      } else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const pull = args.pull === undefined || args.pull === 'missing' || args.pull === 'false' ? 'missing' : args.pull === 'never' ? 'never' : 'always';
    const engine = await ctx.engine();
    const id = await engine.build({
      contextDir,
      file,
      text,
      tags: args.tag.map(String),
      buildArgs,
      target: args.target,
      noCache: args['no-cache'] || !args.layers,
      labels: args.label.map(String),
      quiet: args.quiet,
      pull,
      out: ctx.stdout,
      err: ctx.stderr,
      cwd,
      onPull: pullRenderer(ctx.stderr, args.quiet),
      squash: args['squash-all'] ? 'all' : args.squash ? 'new' : undefined,
      platform: args.platform,
    });
    if (args.iidfile) writeFileSync(args.iidfile, `sha256:${id}`);
    return { stdout: `${id}\n` };
  },
});
