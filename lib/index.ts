export { FayeOnlineError, isFayeOnlineError } from './errors';
export type { ErrorCode } from './errors';
export type { Logger } from './log';
export { signAuth, verifyAuth, canonicalAuthPayload } from './security';
export type { SignableAuth, SignedAuth, AuthSecret, SignAuthOptions, VerifyAuthOptions, VerifyAuthResult, VerifyAuthFailureReason } from './security';
export { unionIntervals, totalDuration } from './reports/intervals';
export type { Interval, ClosedInterval } from './reports/intervals';
export { buildLoginReport } from './reports/sessions';
export type { LoginLogRow, LoginReportOptions, LoginReport, ChannelLoginReport, ClientLoginHistory, LoginSession, LoginAnomaly } from './reports/sessions';
