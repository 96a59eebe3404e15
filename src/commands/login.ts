import { defineCommand } from '../cli/command.js';
import { readAll } from '../cli/prompt.js';
import { TspodError } from '../errors.js';

interface Args {
  registry?: string;
  username?: string;
  password?: string;
  'password-stdin': boolean;
  authfile?: string;
  'tls-verify'?: boolean;
  'get-login': boolean;
}

export default defineCommand<Args>({
  describe: 'Log in to a container registry',
  positionals: [{ name: 'registry', describe: 'registry host[:port]' }],
  flags: {
    username: { type: 'string', alias: 'u', describe: 'Username for registry', placeholder: 'string' },
    password: { type: 'string', alias: 'p', describe: 'Password for registry (prefer --password-stdin)', placeholder: 'string' },
    'password-stdin': { type: 'boolean', describe: 'Take the password from stdin' },
    authfile: { type: 'string', describe: 'Path of the authentication file (also REGISTRY_AUTH_FILE)', placeholder: 'path' },
    'tls-verify': { type: 'boolean', describe: 'Require HTTPS and verify certificates when contacting registries' },
    'get-login': { type: 'boolean', describe: 'Return the current login user for the registry' },
  },
  async run(args, ctx) {
    const engine = await ctx.engine();
    const registry = args.registry ?? 'docker.io';
    if (args['get-login']) {
      const user = engine.currentLogin(registry, args.authfile);
      if (!user) throw new TspodError('invalid-argument', `not logged into ${registry}`);
      return { stdout: `${user}\n` };
    }
    let password = args.password;
    if (args['password-stdin']) {
      if (password !== undefined) throw new TspodError('usage', "can't specify both --password-stdin and --password");
      if (!args.username) throw new TspodError('usage', 'must provide --username with --password-stdin');
      password = (await readAll(ctx.stdin)).replace(/\r?\n$/, '');
    }
    if (!args.username || password === undefined) {
      throw new TspodError('usage', 'username and password required: use --username and --password-stdin', {
        hint: `Example: echo "$PASSWORD" | tspod login -u USER --password-stdin ${registry}`,
      });
    }
    await engine.login(registry, { username: args.username, password, authfile: args.authfile, tlsVerify: args['tls-verify'] });
    return { stdout: 'Login Succeeded!\n' };
  },
});
