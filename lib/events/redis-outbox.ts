// The Redis store's outbox: a list of our own (not the gem's) that the
// arrive, depart and confirm-leave scripts append to in the same script as the
// change (outbox.lua holds the appending code, prepended to those scripts);
// its keys (the list and the dropped counter) are in lib/stores/keys.ts.
import type Redis from 'ioredis';
import { PresenceKeys } from '../stores/keys';
import type { EventOutbox, OutboxStats } from './outbox';

export class RedisOutbox implements EventOutbox {
  private readonly keys: PresenceKeys;

  constructor(private readonly redis: Redis, namespace: string) {
    this.keys = new PresenceKeys(namespace);
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
    const [length, dropped] = await Promise.all([this.redis.llen(this.keys.outbox), this.redis.get(this.keys.outboxDropped)]);
    return { length, dropped: Number(dropped ?? 0) };
  }
}
