// A blob download that survives broken connections: after a network error it reopens the blob at
// the byte it got to (Range: bytes=<received>-; a 200 answer has the prefix skipped), so the consumer
// sees one continuous stream. Enforces the declared size (a registry lying about lengths is hostile),
// and, when asked, fails the stream at the end if the bytes do not hash to the digest.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { TspodError } from '../errors.js';
import { type HttpResponse, backoffDelay, isRetryableError, networkError, sleep } from './http.js';
import { withContext } from './registry-auth.js';

const MAX_RESUMES = 50;

export interface ResumableBlobOptions {
  /** The response to the first request (200). */
  first: HttpResponse;
  /** Reopens the blob at `offset` (200 or 206). */
  open: (offset: number) => Promise<HttpResponse>;
  digest: string;
  /** Exact size, when known. */
  size?: number;
  /** Upper bound (size, or a cap). */
  limit?: number;
  verify: boolean;
  attempts: number;
  backoffMs: number;
  /** Message prefix: `reading blob sha256:…`. */
  context: string;
  tooLarge: () => TspodError;
  /** For network error messages. */
  url: URL;
}

export function resumableBlobStream(o: ResumableBlobOptions): Readable {
  return Readable.from(chunks(o), { objectMode: false });
}

async function* chunks(o: ResumableBlobOptions): AsyncGenerator<Buffer> {
  const { first, digest, size, limit, context, tooLarge } = o;
  const attempts = o.attempts;
  const base = o.backoffMs;
  const hash = o.verify ? createHash('sha256') : undefined;
  let res: HttpResponse | undefined = first;
  let received = 0;
  let failures = 0;
  let resumes = 0;
  try {
    for (;;) {
      if (!res) {
        try {
          res = await o.open(received);
        } catch (e) {
          if (isRetryableError(e) && failures + 1 < attempts) {
            await sleep(backoffDelay(failures++, base));
            continue;
          }
          throw withContext(e, context);
        }
      }
      let skip = 0;
      if (received > 0) {
        if (res.status === 206) {
          const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
          if (!m || Number(m[1]) !== received) {
            res.body.destroy();
            throw new TspodError('registry', `${context}: resuming at byte ${received}: the registry answered with the wrong range ${JSON.stringify(String(res.headers['content-range'] ?? ''))}`);
          }
        } else {
          skip = received;
        }
      }
      const before = received;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          received += c.length;
          if (limit !== undefined && received > limit) throw tooLarge();
          hash?.update(c);
          yield c;
        }
        if (skip > 0 || (size !== undefined && received < size)) {
          throw Object.assign(new Error('unexpected EOF'), { code: 'TSPOD_SHORT_READ' });
        }
        break;
      } catch (e) {
        res.body.destroy();
        res = undefined;
        if (e instanceof TspodError && e.code !== 'network') throw e;
        // Progress forgives earlier failures, except stalls: a registry that trickles a few bytes
        // and then stalls again must not keep us waiting an idle timeout per trickle, forever.
        const stalled = (e as { code?: string }).code === 'TSPOD_READ_TIMEOUT' || (e instanceof TspodError && /timeout/.test(e.message));
        if (received > before && !stalled) failures = 0;
        if (!isRetryableError(e) || failures + 1 >= attempts || ++resumes > MAX_RESUMES) {
          const inner = e instanceof TspodError ? e : networkError('GET', o.url, e);
          throw withContext(inner, `${context}: after ${received} bytes`);
        }
        await sleep(backoffDelay(failures++, base));
      }
    }
    if (hash) {
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest) throw new TspodError('digest-mismatch', `${context}: digest mismatch: got ${got}`);
    }
  } finally {
    res?.body.destroy();
  }
}
