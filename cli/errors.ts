/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The server said no, or could not be reached. */
  error: 1,
  /** Bad command line. */
  usage: 2,
  /** A followed release ended failed or timed-out. */
  releaseFailed: 3,
  /** --timeout passed while the release was still running. */
  waitTimeout: 4,
} as const;

/** An error printed as one line (`ferry: <message>`), ending the process with `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code: number = EXIT.error, readonly details?: unknown) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);
