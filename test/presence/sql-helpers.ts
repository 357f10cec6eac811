// Raw reads of the gem's tables, for assertions that hold to the byte.
import type { PresenceServer } from '../support/presence-server';

/** Anything that runs raw SQL: a PresenceServer, or the shared database of a cluster test. */
export type SqlReader = Pick<PresenceServer, 'query'>;

export interface LoginRow {
  status: number;
  uid: number;
  channel_id: number;
  clientId: string;
  t: string;
}

export async function loginRows(server: SqlReader, clientIds: string[]): Promise<LoginRow[]> {
  if (clientIds.length === 0) return [];
  const list = clientIds.map((id) => `'${id.replace(/[^a-z0-9]/gi, '')}'`).join(',');
  return server.query<LoginRow>(`SELECT status, uid, channel_id, clientId, t FROM faye_user_login_logs WHERE clientId IN (${list}) ORDER BY t, status DESC`);
}

/** When a login log row says it happened, ms (SQLite gives the stored UTC text, MySQL a Date). */
export function loginAt(row: LoginRow): number {
  const t = row.t as unknown;
  return t instanceof Date ? t.getTime() : Date.parse(`${String(t).replace(' ', 'T')}Z`);
}

/** The total length (ms) of the sessions the login log holds for these clientIds; one still open runs until `now`. */
export async function loggedSessionsMs(server: SqlReader, clientIds: string[], now = Date.now()): Promise<number> {
  let total = 0;
  for (const clientId of clientIds) {
    const rows = (await loginRows(server, [clientId])).map((row) => ({ status: row.status, at: loginAt(row) }));
    const login = rows.find((row) => row.status === 1);
    const logout = rows.find((row) => row.status === 0);
    if (login) total += (logout?.at ?? now) - login.at;
  }
  return total;
}

export async function channelId(server: SqlReader, name: string): Promise<number | undefined> {
  const rows = await server.query<{ id: number }>(`SELECT id FROM faye_channels WHERE name = '${name.replace(/[^A-Za-z0-9/]/g, '')}'`);
  return rows[0]?.id;
}

/** The stored user_info_list text of a room, exactly as written. */
export async function userInfoList(server: SqlReader, room: string): Promise<string | undefined> {
  const id = await channelId(server, room);
  if (id === undefined) return undefined;
  const rows = await server.query<{ user_info_list: string }>(`SELECT user_info_list FROM faye_channel_online_lists WHERE channel_id = ${id} ORDER BY id`);
  return rows[0]?.user_info_list;
}

/** The stored online_times JSON text of a user. */
export async function onlineTimes(server: SqlReader, uid: number): Promise<string | undefined> {
  const rows = await server.query<{ online_times: string }>(`SELECT online_times FROM faye_user_online_times WHERE user_id = ${Number(uid)}`);
  return rows[0]?.online_times;
}
