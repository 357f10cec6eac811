// The outbox: events appended by the presence store in the same atomic step as
// the change they record, waiting for the drainer to put them into
// faye_online_events. The Redis store's outbox is a list of our own keys
// (redis-outbox.ts), appended by its Lua scripts; the memory store's is this
// process's array.
//
// It is bounded: while the database is down the entries wait, up to `limit`;
// past it, new events are not appended but counted (`dropped`), and the
// drainer reports the count in the log and the metrics. Redis memory stays
// bounded and nothing is lost silently.
import { encodeOutboxEntry, type PresenceRecordEvent } from './event';

export interface OutboxStats {
  /** Entries waiting. */
  length: number;
  /** Events not appended since the outbox was created because it was full. */
  dropped: number;
}

export interface EventOutbox {
  /** The oldest `count` entries, oldest first (not removed). */
  peek(count: number): Promise<string[]>;
  /** Removes these entries (each once; an entry another drainer removed already is skipped). */
  remove(entries: readonly string[]): Promise<void>;
  stats(): Promise<OutboxStats>;
}

/** Most events an outbox holds by default while the database does not take them. */
export const DEFAULT_OUTBOX_LIMIT = 100_000;

export class MemoryOutbox implements EventOutbox {
  private entries: string[] = [];
  private dropped = 0;

  constructor(private readonly limit = DEFAULT_OUTBOX_LIMIT) {}

  /** Called by the memory store inside its step (synchronously, so nothing interleaves). */
  append(event: PresenceRecordEvent): void {
    if (this.entries.length >= this.limit) this.dropped++;
    else this.entries.push(encodeOutboxEntry(event));
  }

  async peek(count: number): Promise<string[]> {
    return this.entries.slice(0, count);
  }

  async remove(entries: readonly string[]): Promise<void> {
    // The drained entries are the oldest: usually a prefix, cut at once.
    let prefix = 0;
    while (prefix < entries.length && this.entries[prefix] === entries[prefix]) prefix++;
    this.entries.splice(0, prefix);
    for (const entry of entries.slice(prefix)) {
      const index = this.entries.indexOf(entry);
      if (index >= 0) this.entries.splice(index, 1);
    }
  }

  async stats(): Promise<OutboxStats> {
    return { length: this.entries.length, dropped: this.dropped };
  }
}
