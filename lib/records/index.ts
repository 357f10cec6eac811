export { Records } from './records';
export type { RecordsOptions, RecordsStats, OnlineTime, LoginLogEntry } from './records';
export type { LockObserver } from './optimistic-lock';
export type { EngagedTime, RunningEngagement } from './engaged-times';
export { openDatabase, parseDatabaseUrl, describeDatabase, toDatabaseError, isDatabaseUnavailable } from './database';
export type { OpenDatabaseOptions, DatabaseTarget } from './database';
export { countStatements } from './statements';
export type { StatementCounter } from './statements';
