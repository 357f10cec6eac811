// `faye-online/client`: the typed browser client for bundlers. It takes Faye's
// module as a parameter, so it needs no globals; pages without a bundler load
// the same logic from the script the server serves at /faye-online.js.
export { createOnlineClient } from './online-client';
export { BEFORE_LEAVE_CHANNEL, ENGAGEMENT_CHANNEL } from '../protocol';
export { FayeOnlineError, isFayeOnlineError } from '../errors';
export type { ErrorCode } from '../errors';
export type {
  ConnectionState,
  EngagementOptions,
  EngagementTarget,
  FayeClient,
  FayeClientOptions,
  FayeModule,
  OnlineClient,
  OnlineClientEvents,
  OnlineClientOptions,
  OnlineIdentity,
  OnlineSubscription,
  OnlineUser,
  PageLifecycleTarget,
  PresenceChange,
  Refusal,
  UserList,
} from './types';
