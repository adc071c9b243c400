/** A foreign commit changed files of the change's directory after the change was submitted. Not retryable as-is. */
export class ConflictError extends Error {
  override name = 'ConflictError';
  readonly files: string[];
  readonly releaseId?: string;
  readonly dir?: string;
  constructor(message: string, files: string[], details: { releaseId?: string; dir?: string } = {}) {
    super(message);
    this.files = files;
    this.releaseId = details.releaseId;
    this.dir = details.dir;
  }
}

/** The remote could not be updated within retry.maxElapsedMs (down, rejecting, or constantly moving). Retryable. */
export class GitopsUnavailableError extends Error {
  override name = 'GitopsUnavailableError';
  readonly attempts: number;
  readonly elapsedMs: number;
  constructor(message: string, details: { attempts: number; elapsedMs: number; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.attempts = details.attempts;
    this.elapsedMs = details.elapsedMs;
  }
}
