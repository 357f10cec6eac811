export { FayeOnlineError, isFayeOnlineError } from './errors';
export type { ErrorCode } from './errors';
export type { Logger } from './log';
export { attachFayeOnline } from './edge/attach';
export type { FayeOnlineHandle, FayeOnlineEvents, Member } from './edge/attach';
export type { FayeOnlineOptions, SubscriptionRequest, EventsOptions } from './options';
export { DEFAULTS } from './options';
export type { PresenceEvent, DepartureReason, EngagementEvent } from './core/presence';
export type { User, Auth } from './core/auth';
export type { OnlineTime, EngagedTime } from './records';
export { signAuth, verifyAuth, canonicalAuthPayload } from './security';
export type { SignableAuth, SignedAuth, AuthSecret, SignAuthOptions, VerifyAuthOptions, VerifyAuthResult, VerifyAuthFailureReason } from './security';
export { unionIntervals, totalDuration } from './reports/intervals';
export type { Interval, ClosedInterval } from './reports/intervals';
export { buildLoginReport } from './reports/sessions';
export type { LoginLogRow, LoginReportOptions, LoginReport, ChannelLoginReport, ClientLoginHistory, LoginSession, LoginAnomaly } from './reports/sessions';
export { Records, openDatabase, parseDatabaseUrl, countStatements, defineModels } from './records';
export type { RecordsOptions, RecordsStats, LoginLogEntry, LockObserver, OpenDatabaseOptions, StatementCounter, FayeModels } from './records';
export { migrate, migrationStatus, ensureMigrated, adoptSchema, EXPECTED_LAYOUT } from './schema';
export type { MigrationState, MigrationEvent, MigrateOptions, MigrateResult, AdoptResult, TableLayout } from './schema';
export { createReports, presenceStatus, userLoginReport, channelReport, loginLogList, engineLiveness, fayeRedisLiveness, reportsRouter } from './reports';
export type {
  ReportsApi, Authorize, ReportsOptions, MetricsOptions, Liveness, StatusReport, StatusOptions, StatusSources, ChannelStatus, StatusUser, StaleClientIds,
  StaleListEntry, ChannelKind, ReportSource, UserLoginQuery, UserLoginReport, UserChannelLogins, ChannelReportQuery, ChannelReport, ChannelUserTime,
  LoginLogListQuery, LoginLogListEntry,
} from './reports';
export { PresenceMetrics } from './metrics';
export { RedisEngine } from './engine';
export type { RedisEngineOptions, DisconnectInfo, DisconnectReason } from './engine';
export { EVENT_KINDS, EVENTS_TABLE, eventKey, presentAt, attendance, lastSeen, deleteEventsBefore, planErasure, erase } from './events';
export type { EventKind, PresenceRecordEvent, Attendance, LastSeen, HistoryApi, ErasurePlan } from './events';
