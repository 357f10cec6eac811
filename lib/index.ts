export { FayeOnlineError, isFayeOnlineError } from './errors';
export type { ErrorCode } from './errors';
export type { Logger } from './log';
