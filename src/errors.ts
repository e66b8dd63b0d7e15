/**
 * The one error type Agora throws on bad input: it says what went wrong and how to fix it.
 * The CLI prints `message` (and `hint`), and exits non-zero; `--json` output carries `code` too.
 */
export class AgoraError extends Error {
  override readonly name = 'AgoraError';
  /** Stable machine-readable code, e.g. `WALLET_BAD_PASSWORD`. */
  readonly code: string;
  /** What the user can do about it. */
  readonly hint?: string;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

export function isAgoraError(e: unknown): e is AgoraError {
  return e instanceof AgoraError;
}
