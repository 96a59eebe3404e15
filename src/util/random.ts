// Random bytes for identifiers (container, volume, exec and network ids, scratch names) from the
// kernel's CSPRNG, without loading node:crypto: that module and its ~20 internal modules cost
// milliseconds at start-up, and a `run` needs nothing else from it.
import { closeSync, openSync, readSync } from 'node:fs';

let fd: number | undefined;

/** `n` random bytes from /dev/urandom. */
export function randomBytes(n: number): Buffer {
  fd ??= openSync('/dev/urandom', 'r');
  const buf = Buffer.allocUnsafe(n);
  let off = 0;
  while (off < n) {
    const got = readSync(fd, buf, off, n - off, null);
    if (got <= 0) throw new Error('short read from /dev/urandom');
    off += got;
  }
  return buf;
}

/** Closes the descriptor (tests; a CLI process just exits). */
export function closeRandom(): void {
  if (fd !== undefined) closeSync(fd);
  fd = undefined;
}
