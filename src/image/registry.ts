// A Docker Registry HTTP API v2 / OCI distribution client: ping, anonymous/Basic/Bearer auth,
// manifests (capped, digest-verified), blobs (streamed, size-enforced, digest-verified, resumed with
// Range after a broken connection), and the push calls.
//
// Credentials go only to the registry's own origin and to the token realm it names; http.ts drops
// Authorization on cross-origin redirects. Messages follow podman's, e.g.
// `reading manifest latest in 127.0.0.1:5000/foo: manifest unknown`; the caller prefixes
// `initializing source docker://…` (see withContext).

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { TspodError } from '../errors.js';
import type { Credentials } from './auth.js';
import { resumableBlobStream } from './blob-stream.js';
import { DEFAULT_USER_AGENT, type HttpResponse, discard, readBody, sameOrigin, send } from './http.js';
import { MANIFEST_ACCEPT, MAX_JSON_DOCUMENT, cleanContentType } from './manifest.js';
import { isSha256Digest, isValidRepositoryPath, isValidTag, validateDigest } from './reference.js';
import {
  type Challenge,
  MAX_ERROR_BODY,
  fetchBearerToken,
  formatRegistryErrors,
  parseChallenges,
  statusText,
  withContext,
} from './registry-auth.js';

export { formatRegistryErrors, parseChallenges, withContext } from './registry-auth.js';

export interface RegistryClientOptions {
  /** host[:port] as in the reference (docker.io is contacted at registry-1.docker.io). */
  registry: string;
  /** tls-verify=false or an insecure registry: no certificate checks, plain http fallback. */
  insecure?: boolean;
  credentials?: Credentials;
  userAgent?: string;
  /** Idle/connect timeout in ms (default 30 s). */
  timeoutMs?: number;
  /** Attempts for idempotent requests and blob resumes (default 3). */
  attempts?: number;
  /** Backoff base in ms (default 200). */
  backoffMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface FetchedManifest {
  bytes: Buffer;
  /** The Content-Type without parameters. */
  mediaType: string;
  /** sha256 of `bytes`. */
  digest: string;
}

export interface GetBlobOptions {
  /** The descriptor's size: more or fewer bytes is an error. */
  size?: number;
  /** Refuse more than this many bytes even without a size. */
  max?: number;
  /** Hash while streaming and fail at the end on mismatch (default true). */
  verify?: boolean;
}


function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export class RegistryClient {
  readonly registry: string;
  private readonly insecure: boolean;
  private readonly credentials?: Credentials;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly env: NodeJS.ProcessEnv;
  private base?: URL;
  private challenge?: Challenge;
  private pinging?: Promise<void>;
  private readonly tokens = new Map<string, { token: string; expires: number }>();

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry;
    this.insecure = opts.insecure ?? false;
    this.credentials = opts.credentials;
    this.userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.attempts = Math.max(1, opts.attempts ?? 3);
    this.backoffMs = opts.backoffMs ?? 200;
    this.env = opts.env ?? process.env;
  }

  private host(): string {
    return this.registry === 'docker.io' ? 'registry-1.docker.io' : this.registry;
  }

  private sendOpts(url: URL) {
    return {
      insecureSkipVerify: this.insecure && url.hostname === new URL(`https://${this.host()}`).hostname,
      timeoutMs: this.timeoutMs,
      env: this.env,
      attempts: this.attempts,
      backoffMs: this.backoffMs,
    };
  }

  /** GET /v2/: picks https (or http for an insecure registry that does not speak TLS), learns the auth challenge. */
  ping(): Promise<void> {
    this.pinging ??= this.doPing().catch((e) => {
      this.pinging = undefined;
      throw e;
    });
    return this.pinging;
  }

  private async doPing(): Promise<void> {
    const tryScheme = async (scheme: 'https' | 'http'): Promise<void> => {
      const url = new URL(`${scheme}://${this.host()}/v2/`);
      const res = await send({ method: 'GET', url, headers: { 'user-agent': this.userAgent } }, this.sendOpts(url));
      discard(res);
      if (res.status !== 200 && res.status !== 401) {
        throw new TspodError('registry', `invalid status code from registry ${statusText(res)}`);
      }
      this.base = new URL(`${scheme}://${this.host()}`);
      this.challenge = this.pickChallenge(parseChallenges(res.headers['www-authenticate']));
    };
    try {
      await tryScheme('https');
    } catch (e) {
      if (!this.insecure) throw withContext(e, `pinging container registry ${this.registry}`);
      try {
        await tryScheme('http');
      } catch (e2) {
        throw withContext(e2, `pinging container registry ${this.registry}`);
      }
    }
  }

  private pickChallenge(list: Challenge[]): Challenge | undefined {
    return list.find((c) => c.scheme === 'bearer') ?? list.find((c) => c.scheme === 'basic');
  }

  private url(pathOrUrl: string | URL): URL {
    if (pathOrUrl instanceof URL) return pathOrUrl;
    return new URL(pathOrUrl, this.base!);
  }

  private async authorization(scopes: string[], force = false): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = this.credentials;
      if (c && 'username' in c) return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      return undefined;
    }
    if (ch.scheme !== 'bearer') return undefined;
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.tokens.get(key);
    if (!force && cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    const { token, expiresIn } = await fetchBearerToken({
      registry: this.registry,
      registryHostname: this.url('/').hostname,
      insecure: this.insecure,
      challenge: ch,
      scopes: [...new Set(scopes)].sort(),
      credentials: this.credentials,
      userAgent: this.userAgent,
      timeoutMs: this.timeoutMs,
      env: this.env,
      attempts: this.attempts,
      backoffMs: this.backoffMs,
    });
    this.tokens.set(key, { token, expires: Date.now() + Math.max(expiresIn - 10, 5) * 1000 });
    return `Bearer ${token}`;
  }

  /**
   * Sends an authenticated request. On a 401 carrying a (new) challenge, authenticates for the
   * challenged scope and retries once (when the body can be replayed).
   */
  private async request(
    method: string,
    pathOrUrl: string | URL,
    o: { scopes: string[]; headers?: Record<string, string>; body?: Buffer | Readable },
  ): Promise<HttpResponse> {
    await this.ping();
    const url = this.url(pathOrUrl);
    const own = sameOrigin(url, this.base!);
    const build = async (force: boolean): Promise<Record<string, string>> => {
      const h: Record<string, string> = { 'user-agent': this.userAgent, ...o.headers };
      if (own) {
        const auth = await this.authorization(o.scopes, force);
        if (auth) h.authorization = auth;
      }
      return h;
    };
    const res = await send({ method, url, headers: await build(false), body: o.body }, this.sendOpts(url));
    const replayable = o.body === undefined || Buffer.isBuffer(o.body);
    if (res.status !== 401 || !own || !replayable) return res;
    const ch = this.pickChallenge(parseChallenges(res.headers['www-authenticate']));
    if (!ch || (ch.scheme === 'basic' && !(this.credentials && 'username' in this.credentials))) return res;
    if (ch.scheme === 'basic' && this.challenge?.scheme === 'basic') return res; // we already sent them
    discard(res);
    this.challenge = ch;
    if (ch.scheme === 'bearer' && ch.params.scope) {
      for (const s of ch.params.scope.split(' ')) if (s && !o.scopes.includes(s)) o = { ...o, scopes: [...o.scopes, s] };
    }
    return send({ method, url, headers: await build(true), body: o.body }, this.sendOpts(url));
  }

  /** A TspodError for an unexpected response, with the registry's own error text. */
  private async httpError(res: HttpResponse, context: string, notFound: 'manifest-unknown' | 'registry' = 'registry'): Promise<TspodError> {
    const body = res.status === 0 ? Buffer.alloc(0) : await readBody(res, MAX_ERROR_BODY, 'error response').catch(() => Buffer.alloc(0));
    const { text, codes } = formatRegistryErrors(body);
    let code: TspodError['code'] = 'registry';
    if (res.status === 401 || res.status === 403) code = 'unauthorized';
    else if (res.status === 404 || codes.some((c) => c === 'MANIFEST_UNKNOWN' || c === 'NAME_UNKNOWN')) code = notFound;
    let detail = text;
    if (!detail) {
      if (res.status === 401) detail = 'unauthorized: authentication required';
      else if (res.status === 404 && notFound === 'manifest-unknown') detail = 'manifest unknown';
      else detail = `invalid status code from registry ${statusText(res)}`;
    }
    return new TspodError(code, `${context}: ${detail}`);
  }

  private checkRepo(repo: string): void {
    if (!isValidRepositoryPath(repo)) throw new TspodError('invalid-argument', `invalid repository name ${JSON.stringify(repo)}`);
  }

  private checkRef(ref: string): void {
    if (ref.includes(':')) validateDigest(ref);
    else if (!isValidTag(ref)) throw new TspodError('invalid-argument', `invalid tag ${JSON.stringify(ref)}`);
  }

  /**
   * GET a manifest by tag or digest. The body is capped at 4 MiB; `digest` is the sha256 of the bytes
   * and must equal `ref` when `ref` is a digest.
   */
  async getManifest(repo: string, ref: string, accept: string[] = MANIFEST_ACCEPT): Promise<FetchedManifest> {
    this.checkRepo(repo);
    this.checkRef(ref);
    const context = `reading manifest ${ref} in ${this.registry}/${repo}`;
    await this.ping(); // its errors carry their own context, as in podman
    let res: HttpResponse;
    try {
      res = await this.request('GET', `/v2/${repo}/manifests/${ref}`, {
        scopes: [`repository:${repo}:pull`],
        headers: { accept: accept.join(', ') },
      });
    } catch (e) {
      throw withContext(e, context);
    }
    if (res.status !== 200) throw await this.httpError(res, context, 'manifest-unknown');
    let bytes: Buffer;
    try {
      bytes = await readBody(res, MAX_JSON_DOCUMENT, 'manifest');
    } catch (e) {
      throw withContext(e, context);
    }
    const digest = sha256(bytes);
    if (ref.includes(':') && ref !== digest) {
      throw new TspodError('digest-mismatch', `${context}: manifest does not match provided manifest digest ${ref} (got ${digest})`);
    }
    return { bytes, mediaType: cleanContentType(res.headers['content-type']), digest };
  }

  /**
   * Checks credentials the way `podman login` does: a token request with them (Bearer), or GET /v2/
   * with them (Basic). A rejection is TspodError('unauthorized').
   */
  async checkLogin(): Promise<void> {
    await this.ping();
    const ch = this.challenge;
    if (!ch) return; // the registry does not ask for credentials
    if (ch.scheme === 'bearer') {
      await this.authorization([], true);
      return;
    }
    const res = await this.request('GET', '/v2/', { scopes: [] });
    if (res.status === 200) {
      discard(res);
      return;
    }
    throw await this.httpError(res, `authenticating creds for "${this.registry}"`);
  }

  /** Opens the blob at `offset` (Range when > 0); 200 or 206 only. */
  private async openBlob(repo: string, digest: string, offset: number): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, { scopes: [`repository:${repo}:pull`], headers });
    if (res.status === 200 || (res.status === 206 && offset > 0)) return res;
    throw await this.httpError(res, `reading blob ${digest}: fetching blob`);
  }

  /**
   * Streams a blob. Broken connections are resumed with `Range: bytes=<received>-` (a 200 answer has
   * the received prefix skipped), so the consumer sees one continuous stream. With `size`, any byte
   * beyond it or a short end is an error; with `verify` (default) a digest mismatch fails the stream.
   */
  async getBlob(repo: string, digest: string, sizeOrOpts?: number | GetBlobOptions): Promise<Readable> {
    const opts: GetBlobOptions = typeof sizeOrOpts === 'number' ? { size: sizeOrOpts } : (sizeOrOpts ?? {});
    this.checkRepo(repo);
    validateDigest(digest);
    const { size, max } = opts;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      throw new TspodError('hostile-content', `blob ${digest} has an invalid size ${size}`);
    }
    const limit = size ?? max;
    const context = `reading blob ${digest}`;
    await this.ping();
    let first: HttpResponse;
    try {
      first = await this.openBlob(repo, digest, 0);
    } catch (e) {
      throw e instanceof TspodError && e.message.startsWith(context) ? e : withContext(e, context);
    }
    const tooLarge = (): TspodError =>
      new TspodError(
        'hostile-content',
        size !== undefined ? `${context}: the registry sent more than the declared size of ${size} bytes` : `${context}: blob is larger than the ${limit} bytes allowed`,
      );
    const cl = Number(first.headers['content-length']);
    if (limit !== undefined && Number.isFinite(cl) && cl > limit) {
      first.body.destroy();
      throw tooLarge();
    }
    return resumableBlobStream({
      first,
      open: (offset) => this.openBlob(repo, digest, offset),
      digest,
      size,
      limit,
      verify: opts.verify ?? true,
      attempts: this.attempts,
      backoffMs: this.backoffMs,
      context,
      tooLarge,
      url: new URL(`/v2/${repo}/blobs/${digest}`, this.base!),
    });
  }

  /** Fetches a small blob (an image config) into memory: capped, digest-verified. */
  async getBlobBuffer(repo: string, digest: string, max = MAX_JSON_DOCUMENT, size?: number): Promise<Buffer> {
    if (size !== undefined && size > max) {
      throw new TspodError('hostile-content', `reading blob ${digest}: ${size} bytes is more than the ${max} allowed`);
    }
    const opts: GetBlobOptions = { max, verify: true };
    if (size !== undefined) opts.size = size;
    const stream = await this.getBlob(repo, digest, opts);
    const parts: Buffer[] = [];
    for await (const c of stream as AsyncIterable<Buffer>) parts.push(c);
    return Buffer.concat(parts);
  }

  /** HEAD the blob: true if the registry has it. */
  async blobExists(repo: string, digest: string, scopes?: string[]): Promise<boolean> {
    this.checkRepo(repo);
    validateDigest(digest);
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scopes: scopes ?? [`repository:${repo}:pull`] });
    discard(res);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.httpError(res, `checking whether a blob ${digest} exists in ${this.registry}/${repo}`);
  }

  /** Uploads a blob monolithically: POST an upload session, then PUT ?digest= with the bytes. */
  async uploadBlob(repo: string, digest: string, size: number, body: Readable | Buffer): Promise<void> {
    this.checkRepo(repo);
    validateDigest(digest);
    const scopes = [`repository:${repo}:pull,push`];
    const context = `writing blob ${digest} to ${this.registry}/${repo}`;
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { scopes, headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
    if (start.status !== 202) throw await this.httpError(start, `${context}: initiating layer upload`);
    discard(start);
    const location = this.uploadLocation(start, context);
    location.searchParams.set('digest', digest);
    const put = await this.request('PUT', location, {
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
    });
    if (put.status !== 201) throw await this.httpError(put, context);
    discard(put);
  }

  /**
   * Uploads a blob whose digest is known only once its last byte is sent (compressed while
   * uploading): POST an upload session, one streamed PATCH with every byte (chunked transfer
   * encoding), then PUT ?digest=`digestOf()` with no body. The registry checks the digest.
   */
  async uploadBlobStreamed(repo: string, body: Readable, digestOf: () => string): Promise<string> {
    this.checkRepo(repo);
    const scopes = [`repository:${repo}:pull,push`];
    const context = `writing blob to ${this.registry}/${repo}`;
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { scopes, headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
    if (start.status !== 202) {
      body.destroy();
      throw await this.httpError(start, `${context}: initiating layer upload`);
    }
    discard(start);
    const patch = await this.request('PATCH', this.uploadLocation(start, context), {
      scopes,
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    if (patch.status !== 202) throw await this.httpError(patch, `${context}: uploading`);
    discard(patch);
    const digest = digestOf();
    validateDigest(digest);
    const location = this.uploadLocation(patch, context);
    location.searchParams.set('digest', digest);
    const put = await this.request('PUT', location, { scopes, headers: { 'content-length': '0' }, body: Buffer.alloc(0) });
    if (put.status !== 201) throw await this.httpError(put, `writing blob ${digest} to ${this.registry}/${repo}`);
    discard(put);
    return digest;
  }

  private uploadLocation(res: HttpResponse, context: string): URL {
    const loc = res.headers.location;
    if (!loc) throw new TspodError('registry', `${context}: upload response has no Location`);
    try {
      const u = new URL(loc, res.url);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
      return u;
    } catch {
      throw new TspodError('registry', `${context}: invalid upload Location`);
    }
  }

  /** Cross-repository mount; true if the registry mounted it, false if a normal upload is needed. */
  async mountBlob(repo: string, digest: string, fromRepo: string): Promise<boolean> {
    this.checkRepo(repo);
    this.checkRepo(fromRepo);
    validateDigest(digest);
    const q = new URLSearchParams({ mount: digest, from: fromRepo });
    const res = await this.request('POST', `/v2/${repo}/blobs/uploads/?${q}`, {
      scopes: [`repository:${repo}:pull,push`, `repository:${fromRepo}:pull`],
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
    });
    discard(res);
    if (res.status === 201) return true;
    if (res.status === 202) {
      // The registry opened an upload session instead; cancel it, best effort.
      try {
        const loc = this.uploadLocation(res, 'mount');
        const del = await this.request('DELETE', loc, { scopes: [`repository:${repo}:pull,push`] });
        discard(del);
      } catch {
        // ignore
      }
      return false;
    }
    throw await this.httpError(res, `mounting blob ${digest} from ${fromRepo} to ${this.registry}/${repo}`);
  }

  /** PUT a manifest under a tag or digest; returns its digest. */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<string> {
    this.checkRepo(repo);
    this.checkRef(ref);
    const digest = sha256(bytes);
    if (ref.includes(':') && ref !== digest) throw new TspodError('digest-mismatch', `manifest digest ${digest} does not match ${ref}`);
    const res = await this.request('PUT', `/v2/${repo}/manifests/${ref}`, {
      scopes: [`repository:${repo}:pull,push`],
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (res.status !== 201 && res.status !== 200) throw await this.httpError(res, `writing manifest ${ref} to ${this.registry}/${repo}`, 'manifest-unknown');
    discard(res);
    return digest;
  }

  /** Whether a sha256 digest string is acceptable here (for callers building URLs). */
  static isDigest(s: string): boolean {
    return isSha256Digest(s);
  }
}
