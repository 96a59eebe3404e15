// Registry authentication and error text: WWW-Authenticate challenges, the Bearer token flow
// (GET realm with Basic credentials, or POST an identity token), registry JSON errors in podman's words.

import { TspodError } from '../errors.js';
import type { Credentials } from './auth.js';
import { type HttpResponse, readBody, send } from './http.js';

export interface Challenge {
  scheme: string; // lower case
  params: Record<string, string>;
}

export const MAX_ERROR_BODY = 64 << 10;
const MAX_TOKEN_BODY = 1 << 20;

/** Returns a copy of a TspodError with `prefix: ` in front of its message (same code). */
export function withContext(e: unknown, prefix: string): TspodError {
  if (!(e instanceof TspodError)) return new TspodError('internal', `${prefix}: ${String((e as Error)?.message ?? e)}`, { cause: e });
  return new TspodError(e.code, `${prefix}: ${e.message}`, { cause: e, hint: e.hint, exitCode: e.exitCode });
}

/** Parses WWW-Authenticate (possibly several challenges joined by commas). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const s = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  const tokenRe = /[A-Za-z0-9!#$%&'*+.^_`|~-]+/y;
  let i = 0;
  let cur: Challenge | undefined;
  const skip = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
  };
  while (i < s.length) {
    skip();
    tokenRe.lastIndex = i;
    const m = tokenRe.exec(s);
    if (!m) {
      i++;
      continue;
    }
    i = tokenRe.lastIndex;
    let j = i;
    while (j < s.length && (s[j] === ' ' || s[j] === '\t')) j++;
    if (s[j] === '=' && cur) {
      i = j + 1;
      while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        tokenRe.lastIndex = i;
        const v = tokenRe.exec(s);
        if (v) {
          value = v[0];
          i = tokenRe.lastIndex;
        }
      }
      cur.params[m[0].toLowerCase()] = value;
    } else {
      cur = { scheme: m[0].toLowerCase(), params: {} };
      out.push(cur);
    }
  }
  return out;
}

/** Strips control characters and bounds length: registry text ends up on a terminal. */
export function sanitize(s: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Turns `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` into text. */
export function formatRegistryErrors(body: Buffer): { text?: string; codes: string[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return { codes: [] };
  }
  const errors = (doc as { errors?: unknown })?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return { codes: [] };
  const parts: string[] = [];
  const codes: string[] = [];
  for (const e of errors.slice(0, 10)) {
    if (typeof e !== 'object' || e === null) continue;
    const code = typeof (e as { code?: unknown }).code === 'string' ? String((e as { code: string }).code) : 'UNKNOWN';
    const message = typeof (e as { message?: unknown }).message === 'string' ? String((e as { message: string }).message) : '';
    codes.push(code.toUpperCase());
    const codeText = code.toLowerCase().replace(/_/g, ' ');
    parts.push(sanitize(message && message.toLowerCase() !== codeText ? `${codeText}: ${message}` : codeText));
  }
  return parts.length ? { text: parts.join('; '), codes } : { codes: [] };
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  416: 'Requested Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusText(res: HttpResponse): string {
  return `${res.status} (${STATUS_TEXT[res.status] ?? sanitize(res.body.statusMessage ?? '', 60)})`;
}

export interface TokenRequest {
  registry: string;
  /** The hostname requests go to: TLS checks are relaxed for a realm there when `insecure`. */
  registryHostname: string;
  insecure: boolean;
  challenge: Challenge;
  scopes: string[];
  credentials?: Credentials;
  userAgent: string;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  attempts: number;
  backoffMs: number;
}

/** Asks the token realm of a Bearer challenge for a token covering `scopes`. */
export async function fetchBearerToken(t: TokenRequest): Promise<{ token: string; expiresIn: number }> {
  const { challenge: ch, scopes } = t;
  const context = `authenticating creds for "${t.registry}"`;
  const realmRaw = ch.params.realm;
  if (!realmRaw) throw new TspodError('registry', `${context}: missing "realm" in WWW-Authenticate bearer challenge`);
  let realm: URL;
  try {
    realm = new URL(realmRaw);
  } catch {
    throw new TspodError('registry', `${context}: invalid token realm ${JSON.stringify(sanitize(realmRaw, 200))}`);
  }
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
    throw new TspodError('registry', `${context}: unsupported token realm scheme ${realm.protocol}`);
  }
  const creds = t.credentials;
  const sendsSecret = creds !== undefined;
  if (sendsSecret && realm.protocol === 'http:' && !t.insecure) {
    throw new TspodError('registry', `${context}: refusing to send credentials to plain-http token realm ${realm.origin}`);
  }
  const headers: Record<string, string> = { 'user-agent': t.userAgent };
  const opts = {
    insecureSkipVerify: t.insecure && realm.hostname === t.registryHostname,
    timeoutMs: t.timeoutMs,
    env: t.env,
    attempts: t.attempts,
    backoffMs: t.backoffMs,
  };
  let res: HttpResponse;
  if (creds && 'identityToken' in creds) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'tspod' });
    if (ch.params.service) form.set('service', ch.params.service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    headers['content-type'] = 'application/x-www-form-urlencoded';
    res = await send({ method: 'POST', url: realm, headers, body: Buffer.from(form.toString()) }, opts);
  } else {
    const url = new URL(realm.href);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (creds && 'username' in creds) url.searchParams.set('account', creds.username);
    if (creds && 'username' in creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    res = await send({ method: 'GET', url, headers }, opts);
  }
  if (res.status !== 200) {
    const body = await readBody(res, MAX_ERROR_BODY, 'token response').catch(() => Buffer.alloc(0));
    const { text } = formatRegistryErrors(body);
    const code = res.status === 401 || res.status === 403 ? 'unauthorized' : 'registry';
    const detail = text ?? `invalid status code from registry ${statusText(res)}`;
    const prefix = res.status === 401 && creds ? `${context}: invalid username/password` : `${context}: requesting bearer token`;
    throw new TspodError(code, `${prefix}: ${detail}`);
  }
  const body = await readBody(res, MAX_TOKEN_BODY, 'token response');
  let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TspodError('registry', `${context}: token response is not JSON`);
  }
  const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
  if (!token) throw new TspodError('registry', `${context}: token response has no token`);
  if (/[\r\n]/.test(token)) throw new TspodError('hostile-content', `${context}: token contains line breaks`);
  const expiresIn = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
  return { token, expiresIn };
}
