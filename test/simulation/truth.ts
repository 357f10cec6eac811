// The reference model: where each page really was, and when. It knows what the
// server cannot (the moment a network died, that a re-handshake was the same
// page), so it is the truth the recorded presence is compared with.
//
// A page is in its room and time channel from the /meta/connect that names them
// until it closes (before_leave), disconnects, navigates elsewhere, or loses its
// network for longer than the engine keeps its client. A network loss the
// client survives (the page is back before the engine dropped it) is no
// absence: Bayeux cannot see it. A page the edge refuses was never online.

export type Ending = 'close' | 'disconnect' | 'lost' | 'moved' | 'end';

export interface Stay {
  page: number;
  uid: number;
  room: string;
  timeChannel: string;
  start: number;
  /** null while the page is still there */
  end: number | null;
  ending?: Ending;
}

export interface Span {
  start: number;
  end: number;
}

/**
 * The union of spans (touching ones merge), sorted. Written here again on
 * purpose rather than imported from lib/reports/intervals: the reference model
 * must not share code with the reports it checks.
 */
export function union(spans: Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const span of sorted) {
    const last = out[out.length - 1];
    if (last && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else out.push({ ...span });
  }
  return out;
}

export class Truth {
  readonly stays: Stay[] = [];
  /**
   * Per "uid timeChannel": how many times the server may have lost sight of the
   * user there (each stay, and each re-handshake inside one); each costs up to
   * one poll interval of recorded time.
   */
  private readonly sightingBreaks = new Map<string, number>();

  begin(page: number, uid: number, room: string, timeChannel: string, at: number): Stay {
    const stay: Stay = { page, uid, room, timeChannel, start: at, end: null };
    this.stays.push(stay);
    this.addBreak(uid, timeChannel);
    return stay;
  }

  end(stay: Stay | undefined, at: number, ending: Ending): void {
    if (!stay || stay.end !== null) return;
    stay.end = Math.max(stay.start, at);
    stay.ending = ending;
  }

  /** The edge refused the page: it never was online. */
  refuse(stay: Stay | undefined): void {
    if (!stay) return;
    const index = this.stays.indexOf(stay);
    if (index >= 0) this.stays.splice(index, 1);
  }

  /** A move was refused: the page's stay where it was goes on. */
  resume(stay: Stay | undefined): Stay | undefined {
    if (stay) {
      stay.end = null;
      stay.ending = undefined;
    }
    return stay;
  }

  addBreak(uid: number, timeChannel: string): void {
    const key = `${uid} ${timeChannel}`;
    this.sightingBreaks.set(key, (this.sightingBreaks.get(key) ?? 0) + 1);
  }

  breaks(uid: number, timeChannel: string): number {
    return this.sightingBreaks.get(`${uid} ${timeChannel}`) ?? 0;
  }

  /** uids with a page in `channel` (a room or a time channel) at `now`. */
  presentIn(channel: string, now: number): Set<number> {
    const uids = new Set<number>();
    for (const stay of this.stays) {
      if ((stay.room === channel || stay.timeChannel === channel) && stay.start <= now && stay.end === null) uids.add(stay.uid);
    }
    return uids;
  }

  rooms(): string[] {
    return [...new Set(this.stays.map((s) => s.room))].sort();
  }

  timeChannels(): string[] {
    return [...new Set(this.stays.map((s) => s.timeChannel))].sort();
  }

  users(): number[] {
    return [...new Set(this.stays.map((s) => s.uid))].sort((a, b) => a - b);
  }

  /** When the user really was in the time channel, up to `now`. */
  timeIn(uid: number, timeChannel: string, now: number): Span[] {
    return union(this.stays.filter((s) => s.uid === uid && s.timeChannel === timeChannel).map((s) => ({ start: s.start, end: s.end ?? now })));
  }

  /**
   * The gap in the user's presence in `room` that contains `at`, with how its
   * last stay ended; null when the user really was there at `at`.
   */
  gapAround(uid: number, room: string, at: number): { from: number; to: number; ending?: Ending } | null {
    const mine = this.stays.filter((s) => s.uid === uid && s.room === room);
    // A stay that starts right at `at` follows the gap (a page that moved away and straight back).
    if (mine.some((s) => s.start < at && (s.end === null || s.end > at))) return null;
    const before = mine.filter((s) => s.end !== null && s.end <= at).sort((a, b) => b.end! - a.end!)[0];
    const after = mine.filter((s) => s.start >= at).sort((a, b) => a.start - b.start)[0];
    return { from: before?.end ?? -Infinity, to: after?.start ?? Infinity, ending: before?.ending };
  }
}
