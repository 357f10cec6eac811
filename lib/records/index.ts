export { Records } from './records';
export type { RecordsOptions, RecordsStats, OnlineTime, LoginLogEntry } from './records';
export type { LockObserver } from './optimistic-lock';
export { openDatabase, parseDatabaseUrl, describeDatabase, toDatabaseError } from './database';
export type { OpenDatabaseOptions, DatabaseTarget } from './database';
export { countStatements } from './statements';
export type { StatementCounter } from './statements';
export { defineModels, FayeChannel, FayeChannelOnlineList, FayeUserOnlineTime, FayeUserLoginLog } from './models';
export type { FayeModels } from './models';
