// Every error this package raises is a FayeOnlineError with a stable `code`, so
// apps and logs can tell causes apart without parsing messages.

export type ErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_ARGUMENT'
  | 'INVALID_AUTH'
  | 'INVALID_CHANNEL'
  | 'AUTH_SIGNATURE'
  | 'FORBIDDEN'
  | 'LIMIT_EXCEEDED'
  | 'DATABASE_UNREACHABLE'
  | 'DATABASE_AUTH'
  | 'DATABASE_URL'
  | 'DATABASE_DRIVER_MISSING'
  | 'SCHEMA_NOT_MIGRATED'
  | 'SCHEMA_UNTRACKED'
  | 'SCHEMA_MISMATCH'
  | 'OPTIMISTIC_LOCK_EXHAUSTED'
  | 'RECORD_TOO_LARGE'
  | 'REDIS_UNREACHABLE'
  | 'CLOSED';

export class FayeOnlineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FayeOnlineError';
    this.code = code;
  }
}

export function isFayeOnlineError(error: unknown, code?: ErrorCode): error is FayeOnlineError {
  return error instanceof FayeOnlineError && (code === undefined || error.code === code);
}
