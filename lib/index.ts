// The public API: what README.md and docs/ show, and the types of it.
export { FayeOnlineError } from './errors';
export type { ErrorCode } from './errors';
export type { Logger } from './log';
export { attachFayeOnline } from './edge/attach';
export type { FayeOnlineHandle, FayeOnlineEvents, Member } from './edge/attach';
export type { FayeOnlineOptions, SubscriptionRequest, EventsOptions } from './options';
export { DEFAULTS } from './options';
export type { PresenceEvent, DepartureReason, EngagementEvent } from './core/presence';
export type { User, Auth } from './core/auth';
export type { OnlineTime, EngagedTime } from './records';
export { signAuth, verifyAuth } from './security';
export { verifyWebhook, webhookSignature } from './webhooks';
export type { WebhooksOptions, VerifyWebhookInput, VerifyWebhookResult } from './webhooks';
export type { SignableAuth, SignedAuth, AuthSecret, SignAuthOptions, VerifyAuthOptions, VerifyAuthResult, VerifyAuthFailureReason } from './security';
export { Records, openDatabase } from './records';
export type { RecordsOptions, RecordsStats, LoginLogEntry, LockObserver, OpenDatabaseOptions } from './records';
export { migrate, migrationStatus, ensureMigrated } from './schema';
export type { MigrationState, MigrationEvent, MigrateOptions, MigrateResult } from './schema';
export { createReports, userLoginReport, channelReport, loginLogList } from './reports';
export type {
  ReportsApi, Authorize, ReportsOptions, MetricsOptions, StatusReport, StatusOptions, StatusSources, ChannelStatus, StatusUser, StaleClientIds,
  StaleListEntry, ChannelKind, ReportSource, UserLoginQuery, UserLoginReport, UserChannelLogins, ChannelReportQuery, ChannelReport, ChannelUserTime,
  LoginLogListQuery, LoginLogListEntry,
} from './reports';
export { RedisEngine } from './engine';
export type { RedisEngineOptions, DisconnectInfo, DisconnectReason } from './engine';
export { presentAt, attendance, lastSeen, erase } from './events';
export type { EventKind, PresenceRecordEvent, Attendance, LastSeen, HistoryApi, ErasurePlan } from './events';
