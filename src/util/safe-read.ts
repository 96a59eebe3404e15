// Reading a file that belongs to a container from the host side, without following a final
// symlink and without ever blocking on a FIFO or device (CVE-2024-9676).
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { TspodError } from '../errors.js';

/** The regular file at `hostPath` (shown as `what` in errors), or null if it does not exist. */
export function readRegularFileNoFollow(hostPath: string, what: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    if (code === 'ELOOP') throw new TspodError('hostile-content', `${what} in the container is a symlink`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TspodError('hostile-content', `${what} in the container is not a regular file`);
    if (st.size > max) throw new TspodError('hostile-content', `${what} in the container is larger than ${max} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
