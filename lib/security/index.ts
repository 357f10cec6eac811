export {
  signAuth,
  verifyAuth,
  canonicalAuthPayload,
  AUTH_SIGNATURE_VERSION,
  MIN_SECRET_BYTES,
  DEFAULT_EXPIRES_IN_SECONDS,
  DEFAULT_CLOCK_SKEW_SECONDS,
} from './sign';
export type {
  SignableAuth,
  SignedAuth,
  AuthSecret,
  SignAuthOptions,
  VerifyAuthOptions,
  VerifyAuthResult,
  VerifyAuthFailureReason,
} from './sign';
