import { writeFileSync } from 'node:fs';
import { defineCommand } from '../cli/command.js';
import { TspodError } from '../errors.js';
import type { PushEvent } from '../engine/push.js';

interface Args {
  image: string;
  destination?: string;
  quiet: boolean;
  'tls-verify'?: boolean;
  creds?: string;
  authfile?: string;
  digestfile?: string;
  'compression-format'?: string;
  'compression-level'?: number;
  format?: string;
}

export default defineCommand<Args>({
  describe: 'Push an image to a specified destination',
  positionals: [
    { name: 'image', describe: 'local image to push', required: true },
    { name: 'destination', describe: 'where to push it (docker://REGISTRY/REPO:TAG); default: the image name' },
  ],
  flags: {
    quiet: { type: 'boolean', alias: 'q', describe: "Don't output progress information when pushing images" },
    'tls-verify': { type: 'boolean', describe: 'Require HTTPS and verify certificates when contacting registries' },
    creds: { type: 'string', describe: 'Credentials (USERNAME:PASSWORD) to use for authenticating to a registry', placeholder: 'USERNAME[:PASSWORD]' },
    authfile: { type: 'string', describe: 'Path of the authentication file (also REGISTRY_AUTH_FILE)', placeholder: 'path' },
    digestfile: { type: 'string', describe: 'Write the digest of the pushed image to the specified file', placeholder: 'string' },
    'compression-format': { type: 'string', describe: 'Compression format to use (gzip, zstd)', placeholder: 'string', choices: ['gzip', 'zstd'] },
    'compression-level': { type: 'number', describe: 'Compression level to use (gzip 1-9, zstd 1-19)', placeholder: 'int' },
    format: { type: 'string', alias: 'f', describe: 'Manifest type (oci, v2s2) to use when pushing an image', placeholder: 'string', choices: ['oci', 'v2s2'] },
  },
  examples: [['tspod push localhost/app:1 127.0.0.1:5000/app:1', 'push an image to a registry']],
  async run(args, ctx) {
    const engine = await ctx.engine();
    const err = ctx.stderr;
    const render = (e: PushEvent): void => {
      if (args.quiet) return;
      if (e.type === 'signatures') err.write('Getting image source signatures\n');
      // podman 4 prints the same line whether the registry already had the blob or not
      else if (e.type === 'blob') err.write(`Copying blob ${e.digest}\n`);
      else if (e.type === 'config') err.write(`Copying config ${e.digest}\n`);
      else err.write('Writing manifest to image destination\nStoring signatures\n');
    };
    const res = await engine.push(
      args.image,
      args.destination,
      {
        tlsVerify: args['tls-verify'],
        creds: args.creds,
        authfile: args.authfile,
        compressionFormat: args['compression-format'] as 'gzip' | 'zstd' | undefined,
        compressionLevel: args['compression-level'],
        format: args.format as 'oci' | 'v2s2' | undefined,
      },
      render,
    );
    if (args.digestfile !== undefined) {
      try {
        writeFileSync(args.digestfile, res.digest, { mode: 0o644 });
      } catch (e) {
        throw new TspodError('invalid-argument', `writing digest file ${args.digestfile}: ${(e as Error).message}`);
      }
    }
  },
});
