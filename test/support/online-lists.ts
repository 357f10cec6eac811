// Fixtures that start from a crowded room (tests, benchmarks).
import type { Records } from '../../lib/records';

/**
 * `uids` join the room's online list in this order, through Records' own
 * writes (asked for all at once, they go out in a few batches).
 * Resolves to the list as written.
 */
export async function fillOnlineList(records: Records, room: string, uids: readonly number[]): Promise<number[]> {
  const lists = await Promise.all(uids.map((uid) => records.addToOnlineList(room, uid)));
  return lists.at(-1) ?? (await records.onlineList(room));
}
