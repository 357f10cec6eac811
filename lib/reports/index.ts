// The reports: status (who is online where, what is stale), a user's logins,
// a channel's online time, and the raw login log. One ReportsApi serves the
// running server's handle, its JSON endpoints and the CLI.
import type { ReportsApi } from './http';
import { channelReport, loginLogList, userLoginReport, type ReportSource } from './login-report';
import { presenceStatus, type StatusSources } from './status';

export function createReports(source: ReportSource & { status: Omit<StatusSources, 'sequelize'> }): ReportsApi {
  const statusSources: StatusSources = { ...source.status, sequelize: source.sequelize };
  return {
    status: (options) => presenceStatus(statusSources, options),
    userLoginReport: (query) => userLoginReport(source, query),
    channelReport: (query) => channelReport(source, query),
    loginLogList: (query) => loginLogList(source, query),
  };
}

export type { ReportsApi, Authorize } from './http';
export { reportsRouter, parseIsoDate } from './http';
export type { ReportsOptions, MetricsOptions } from './http-options';
export { engineLiveness, fayeRedisLiveness, type Liveness } from './liveness';
export { presenceStatus } from './status';
export type { StatusReport, StatusOptions, StatusSources, ChannelStatus, StatusUser, StaleClientIds, StaleListEntry, ChannelKind } from './status';
export { userLoginReport, channelReport, loginLogList } from './login-report';
export type {
  ReportSource, UserLoginQuery, UserLoginReport, UserChannelLogins, ChannelReportQuery, ChannelReport, ChannelUserTime, LoginLogListQuery, LoginLogListEntry,
} from './login-report';
