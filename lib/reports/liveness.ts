// "Is this clientId still connected?" for reports, asked of the Faye engine,
// never of one process's memory: in a cluster another process may serve it.
import type Redis from 'ioredis';
import { EngineKeys } from '../stores/keys';

/** Which of these clientIds are alive: the reports' liveness (the edge's is before-leave.ts' Liveness). */
export type AliveFilter = (clientIds: readonly string[]) => Promise<Set<string>>;

interface EngineLike {
  clientExists(clientId: string, callback: (exists: boolean) => void): void;
}

/** Faye's callback-style clientExists as a promise. */
export function clientExistsOn(engine: EngineLike): (clientId: string) => Promise<boolean> {
  return (clientId) => new Promise((resolve) => engine.clientExists(clientId, resolve));
}

/**
 * Liveness from a running server's engine, through a check of one clientId:
 * the Redis engine's `alive`, which rejects when it cannot tell (Faye's
 * callback answers no when Redis fails, which a report would show as a page
 * gone and a cleanup would log out), or `clientExistsOn` the memory engine.
 */
export function engineLiveness(exists: (clientId: string) => Promise<boolean>): AliveFilter {
  return async (clientIds) => {
    const answers = await Promise.all(clientIds.map(exists));
    return new Set(clientIds.filter((_, i) => answers[i]));
  };
}

/**
 * Liveness without a running server: read faye-redis' sorted set `<ns>/clients`
 * (clientId → last ping in ms). A client exists while its score is newer than
 * 1.6 × timeout, the rule every faye-redis engine applies (the Ruby one too).
 */
export function fayeRedisLiveness(redis: Redis, namespace: string, timeoutSeconds: number, now: () => number = Date.now): AliveFilter {
  const key = new EngineKeys(namespace).clients;
  return async (clientIds) => {
    if (!clientIds.length) return new Set();
    const pipeline = redis.pipeline();
    for (const id of clientIds) pipeline.zscore(key, id);
    const replies = (await pipeline.exec()) ?? [];
    const cutoff = now() - 1000 * 1.6 * timeoutSeconds;
    const live = new Set<string>();
    replies.forEach(([error, score], i) => {
      if (error) throw error;
      if (score !== null && Number(score) > cutoff) live.add(clientIds[i]);
    });
    return live;
  };
}
