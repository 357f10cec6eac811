// The reports: status (who is online where, what is stale), a user's logins,
// a channel's online time, and the raw login log.
export { createReports } from './api';
export { openOfflineReports, type OfflineReports, type OfflineReportsOptions } from './offline';
export type { ReportsApi, Authorize } from './http';
export { reportsRouter, parseIsoDate } from './http';
export type { ReportsOptions, MetricsOptions } from './http-options';
export { clientExistsOn, engineLiveness, fayeRedisLiveness, type AliveFilter } from './liveness';
export { presenceStatus } from './status';
export type { StatusReport, StatusOptions, StatusSources, ChannelStatus, StatusUser, StaleClientIds, StaleListEntry, ChannelKind } from './status';
export { userLoginReport, channelReport, loginLogList } from './login-report';
export type {
  ReportSource, UserLoginQuery, UserLoginReport, UserChannelLogins, ChannelReportQuery, ChannelReport, ChannelUserTime, LoginLogListQuery, LoginLogListEntry,
} from './login-report';
