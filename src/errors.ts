// One error type for all of tspod. Callers match on `code`, never on message text.
// The CLI front turns it into `Error: <message>` (+ hint) and an exit status.

export const EXIT_ENGINE = 125; // tspod itself failed
export const EXIT_CANNOT_INVOKE = 126; // the container command could not be invoked
export const EXIT_NOT_FOUND = 127; // the container command was not found

export type ErrorCode =
  | 'usage' // bad flags or arguments
  | 'invalid-argument' // a value that does not parse (reference, platform, ...)
  | 'config' // a config file that does not parse
  | 'no-such-image'
  | 'no-such-container'
  | 'no-such-volume'
  | 'no-such-layer'
  | 'image-in-use'
  | 'exists' // a name or tag that is already taken
  | 'registry' // the registry answered with an error
  | 'unauthorized' // the registry refused our credentials
  | 'manifest-unknown'
  | 'network' // connection refused, timeouts, TLS
  | 'address-in-use' // a host port to publish is taken
  | 'digest-mismatch'
  | 'hostile-content' // a layer or document that tries to escape or lie
  | 'unsupported' // a media type, platform or feature we do not handle
  | 'userns' // the user namespace could not be set up
  | 'storage' // the store is in a state we cannot use
  | 'runtime' // the OCI runtime failed
  | 'cannot-invoke'
  | 'command-not-found'
  | 'internal';

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
  exitCode?: number;
}

export class TspodError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TspodError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? defaultExit(code);
  }
}

function defaultExit(code: ErrorCode): number {
  if (code === 'cannot-invoke') return EXIT_CANNOT_INVOKE;
  if (code === 'command-not-found') return EXIT_NOT_FOUND;
  return EXIT_ENGINE;
}

export function isTspodError(e: unknown, code?: ErrorCode): e is TspodError {
  return e instanceof TspodError && (code === undefined || e.code === code);
}

/** Wraps any thrown value into a TspodError, keeping ours as they are. */
export function asTspodError(e: unknown): TspodError {
  if (e instanceof TspodError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.message === 'string') {
    return new TspodError('internal', err.message, { cause: e });
  }
  return new TspodError('internal', String(e));
}

/** The text the CLI prints for an error: Podman's `Error: ...` shape plus an optional hint line. */
export function formatError(e: TspodError): string {
  let s = `Error: ${e.message}`;
  if (e.hint) s += `\n${e.hint}`;
  return s;
}
