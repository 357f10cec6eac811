// Every migration, oldest first: the gem's two, then our own (engaged time, events, webhooks). Listed here rather than found by a glob so the
// same list works from the TypeScript sources and from the compiled dist/.
import type { LegacyMigration } from '../lib/schema/ddl';
import { migration as createUserList } from './20130326113504_faye_create_user_list';
import { migration as addUserLoginLogs } from './20130531033325_add_faye_user_login_logs';
import { migration as createEngagedTimes } from './20261128190000_create_faye_online_engaged_times';
import { migration as createEvents } from './20261130090000_create_faye_online_events';
import { migration as createWebhooks } from './20261130100000_create_faye_online_webhooks';
import { migration as widenOnlineTimes } from './20261129200000_widen_faye_user_online_times';

export const migrations: readonly LegacyMigration[] = [createUserList, addUserLoginLogs, createEngagedTimes, createEvents, createWebhooks];

/** Run only when asked for by their `optional` name (and known from then on, for status and down). */
export const optionalMigrations: readonly LegacyMigration[] = [widenOnlineTimes];
