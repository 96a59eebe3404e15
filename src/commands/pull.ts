import { defineCommand } from '../cli/command.js';
import { pullRenderer } from '../cli/progress.js';
import { reportEach } from '../cli/report.js';

interface Args {
  images: string[];
  quiet: boolean;
  platform?: string;
  arch?: string;
  os?: string;
  variant?: string;
  'tls-verify'?: boolean;
  creds?: string;
  authfile?: string;
}

export default defineCommand<Args>({
  describe: 'Pull an image from a registry',
  positionals: [{ name: 'images', describe: 'image to pull', required: true, variadic: true }],
  flags: {
    quiet: { type: 'boolean', alias: 'q', describe: 'Suppress output information when pulling images' },
    platform: { type: 'string', describe: 'Specify the platform for selecting the image (OS/ARCH[/VARIANT])', placeholder: 'string' },
    arch: { type: 'string', describe: 'Use ARCH instead of the architecture of the machine for choosing images', placeholder: 'ARCH' },
    os: { type: 'string', describe: 'Use OS instead of the running OS for choosing images', placeholder: 'OS' },
    variant: { type: 'string', describe: 'Use VARIANT instead of the running architecture variant for choosing images', placeholder: 'VARIANT' },
    'tls-verify': { type: 'boolean', describe: 'Require HTTPS and verify certificates when contacting registries' },
    creds: { type: 'string', describe: 'Credentials (USERNAME:PASSWORD) to use for authenticating to a registry', placeholder: 'USERNAME[:PASSWORD]' },
    authfile: { type: 'string', describe: 'Path of the authentication file (also REGISTRY_AUTH_FILE)', placeholder: 'path' },
  },
  examples: [['tspod pull alpine:3.15', 'pull an image from the default registry']],
  async run(args, ctx) {
    const engine = await ctx.engine();
    const render = pullRenderer(ctx.stderr, args.quiet);
    return reportEach(ctx, args.images, async (name) => {
      const res = await engine.pull(
        name,
        {
          platform: args.platform,
          arch: args.arch,
          os: args.os,
          variant: args.variant,
          tlsVerify: args['tls-verify'],
          creds: args.creds,
          authfile: args.authfile,
        },
        render,
      );
      return res.id;
    });
  },
});
