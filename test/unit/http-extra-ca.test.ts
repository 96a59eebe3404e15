// NODE_EXTRA_CA_CERTS, handed over by the launcher as _TSPOD_EXTRA_CA_CERTS: tspod's own TLS
// connections trust those certificates (and still Node's roots), loaded at the first connection.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendOnce, trustedCas } from '../../src/image/http.js';

const dir = mkdtempSync(join(tmpdir(), 'tspod-ca-'));
let server: https.Server;
let url: URL;

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  server = https.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (_q, r) => r.end('ok'));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('extra CA certificates', () => {
  it('without them the self-signed server is refused', async () => {
    await expect(sendOnce({ method: 'GET', url }, { env: {} })).rejects.toThrow();
  });
  it('with _TSPOD_EXTRA_CA_CERTS it is trusted, and so are the usual roots', async () => {
    const env = { _TSPOD_EXTRA_CA_CERTS: join(dir, 'c.pem') };
    const cas = trustedCas(env)!;
    expect(cas.length).toBe(tls.rootCertificates.length + 1);
    const r = await sendOnce({ method: 'GET', url }, { env });
    expect(r.status).toBe(200);
    r.body.resume();
  });
  it('an unreadable or empty file is ignored, as Node does', () => {
    expect(trustedCas({ _TSPOD_EXTRA_CA_CERTS: join(dir, 'missing.pem') })).toBeUndefined();
    writeFileSync(join(dir, 'empty.pem'), 'no certificates here\n');
    expect(trustedCas({ _TSPOD_EXTRA_CA_CERTS: join(dir, 'empty.pem') })).toBeUndefined();
    expect(trustedCas({})).toBeUndefined();
  });
});
