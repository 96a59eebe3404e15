// login: check the credentials against the registry before storing them, as podman does.
import { TspodError } from '../errors.js';
import { storeCredentials } from '../image/auth.js';
import { isInsecureRegistry } from '../image/registries.js';
import { RegistryClient } from '../image/registry.js';
import { normalizeAuthKey } from '../image/auth.js';
import { VERSION } from '../version.js';
import type { Engine } from './index.js';

export async function login(
  engine: Engine,
  registry: string,
  opts: { username: string; password: string; authfile?: string; tlsVerify?: boolean },
): Promise<string> {
  const host = normalizeAuthKey(registry).split('/')[0]!;
  let insecure = opts.tlsVerify === false;
  try {
    insecure ||= isInsecureRegistry(engine.registries(), host);
  } catch {
    /* no registries.conf: secure */
  }
  const client = new RegistryClient({
    registry: host === 'docker.io' ? 'registry-1.docker.io' : host,
    insecure,
    credentials: { username: opts.username, password: opts.password },
    userAgent: `tspod/${VERSION}`,
  });
  try {
    await client.checkLogin();
  } catch (e) {
    if (e instanceof TspodError && e.code === 'unauthorized') {
      throw new TspodError('unauthorized', `logging into "${registry}": invalid username/password`, { cause: e });
    }
    throw e;
  }
  return storeCredentials(registry, opts.username, opts.password, { authfile: opts.authfile, env: engine.ctx.env });
}
