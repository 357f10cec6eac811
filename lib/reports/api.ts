// One ReportsApi over a database (and, for status, the presence store and a
// liveness check): it serves the running server's handle, its JSON endpoints
// and the CLI alike.
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
