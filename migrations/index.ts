// Every migration, oldest first: the gem's two, then our own (engaged time). Listed here rather than found by a glob so the
// same list works from the TypeScript sources and from the compiled dist/.
import type { LegacyMigration } from '../lib/schema/ddl';
import { migration as createUserList } from './20130326113504_faye_create_user_list';
import { migration as addUserLoginLogs } from './20130531033325_add_faye_user_login_logs';
import { migration as createEngagedTimes } from './20261128190000_create_faye_online_engaged_times';

export const migrations: readonly LegacyMigration[] = [createUserList, addUserLoginLogs, createEngagedTimes];
