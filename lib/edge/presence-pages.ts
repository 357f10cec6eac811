// Pages of a crowded room's state. A <room>/presence subscribe reply carries
// the room's state; past one page of members it carries the first page of a
// read, and the browser client asks for the next ones by subscribing to the
// same channel again with {"seq", "cursor"} in ext.faye_online_presence_page.
// The request is a subscription of that very channel, so it passes every check
// the subscription passes (signed auth, the app's authorizeSubscription): a
// page cannot be read by anyone who may not subscribe to the room.
//
// A read is split into pages once, each page is serialized once (as a JSON
// string, which Faye then copies instead of walking every member), and the
// read is kept a few seconds so that the pages every newcomer asks for come
// from it. A page of a read no longer kept here (expired, or read by another
// process of the cluster) is answered from the next read when the room has not
// changed since (same seq, same pages), and otherwise with the first page of
// that new read: the client starts over.
import type { Clock } from '../core/clock';
import type { PresencePageMessage, PresencePageRequest } from '../protocol';
import type { PresenceSnapshot } from './presence-diffs';

/** How long a crowded room's read stays available for its next pages. */
export const KEEP_READ_MS = 5000;

/**
 * Reads of one room kept at once (the newest). Newcomers cause at most one read
 * per window (100 ms), so under a steady stream of them a read stays at least
 * this many windows.
 */
export const KEPT_READS_PER_ROOM = 8;

/**
 * One read of a crowded room, split into pages serialized on first demand.
 * Members are in uid order: a room's seq changes with every join and leave, so
 * two reads of one seq (on two processes of a cluster, or one after the other)
 * hold the same members, and in uid order the same pages. A page request can
 * then be answered from any read of its seq, not only the one it started from.
 */
export class PagedRead {
  private readonly pages = new Map<number, PresencePageMessage>();
  private readonly members: PresenceSnapshot['members'];

  constructor(private readonly snapshot: PresenceSnapshot, readonly pageSize: number, private readonly serialized: () => void) {
    this.members = [...snapshot.members].sort((a, b) => a.uid - b.uid);
  }

  get room(): string {
    return this.snapshot.room;
  }

  get seq(): number {
    return this.snapshot.seq;
  }

  get count(): number {
    return this.members.length;
  }

  /** Whether `cursor` is the first member of a page after the first one. */
  isCursor(cursor: number): boolean {
    return cursor > 0 && cursor < this.count && cursor % this.pageSize === 0;
  }

  page(offset: number): PresencePageMessage {
    let page = this.pages.get(offset);
    if (!page) {
      // clientIds stay on the server: other pages have no business with them.
      const members = this.members.slice(offset, offset + this.pageSize).map(({ uid, user }) => ({ uid, user }));
      const next = offset + this.pageSize;
      page = { seq: this.seq, count: this.count, offset, page: JSON.stringify(members), ...(next < this.count ? { next } : {}) };
      this.pages.set(offset, page);
      this.serialized();
    }
    return page;
  }
}

/** The last reads of each crowded room, each for KEEP_READ_MS. */
export class KeptReads {
  private readonly rooms = new Map<string, Map<number, PagedRead>>();

  constructor(private readonly clock: Clock) {}

  keep(read: PagedRead): void {
    let reads = this.rooms.get(read.room);
    if (!reads) this.rooms.set(read.room, (reads = new Map()));
    const kept = reads;
    kept.delete(read.seq);
    kept.set(read.seq, read);
    while (kept.size > KEPT_READS_PER_ROOM) kept.delete(kept.keys().next().value!);
    this.clock.after(KEEP_READ_MS, () => {
      if (kept.get(read.seq) === read) kept.delete(read.seq);
      if (kept.size === 0 && this.rooms.get(read.room) === kept) this.rooms.delete(read.room);
    });
  }

  find(room: string, seq: number): PagedRead | undefined {
    return this.rooms.get(room)?.get(seq);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** `{"seq": n, "cursor": n}` and nothing else, or a sentence saying what is wrong. */
export function readPageRequest(value: unknown): PresencePageRequest | string {
  const shape = 'a page request is {"seq" - n, "cursor" - n} from the previous page';
  if (!isRecord(value)) return shape;
  const extra = Object.keys(value).find((key) => key !== 'seq' && key !== 'cursor');
  if (extra !== undefined) return `${shape} and nothing else (the page size is the server's)`;
  if (!isCount(value.seq)) return 'the page request\'s seq must be the seq of the previous page';
  if (!isCount(value.cursor) || value.cursor === 0) return 'the page request\'s cursor must be the next of the previous page';
  return { seq: value.seq, cursor: value.cursor };
}
