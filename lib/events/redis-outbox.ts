// The Redis store's outbox: a list of our own (not the gem's) that the
// arrive, depart and confirm-leave scripts append to in the same script as the
// change (outbox.lua holds the appending code, prepended to those scripts).
//
//   /<ns>/events_outbox          list of outbox entries (JSON, see event.ts), oldest first
//   /<ns>/events_outbox_dropped  events not appended because the list was full (a counter)
import type Redis from 'ioredis';
import type { EventOutbox, OutboxStats } from './outbox';

export function outboxKeys(namespace: string): { outbox: string; dropped: string } {
  return { outbox: `/${namespace}/events_outbox`, dropped: `/${namespace}/events_outbox_dropped` };
}

export class RedisOutbox implements EventOutbox {
  private readonly keys: { outbox: string; dropped: string };

  constructor(private readonly redis: Redis, namespace: string) {
    this.keys = outboxKeys(namespace);
  }

  peek(count: number): Promise<string[]> {
    return this.redis.lrange(this.keys.outbox, 0, count - 1);
  }

  // By value, from the head: two drainers that read the same entries remove
  // each once, and never an entry the other has not written yet.
  async remove(entries: readonly string[]): Promise<void> {
    if (entries.length === 0) return;
    const batch = this.redis.multi();
    for (const entry of entries) batch.lrem(this.keys.outbox, 1, entry);
    await batch.exec();
  }

  async stats(): Promise<OutboxStats> {
    const [length, dropped] = await Promise.all([this.redis.llen(this.keys.outbox), this.redis.get(this.keys.dropped)]);
    return { length, dropped: Number(dropped ?? 0) };
  }
}
