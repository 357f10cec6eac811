// Counts the Redis commands of one namespace with MONITOR, split into the
// presence keys ("/<ns>/...", the Ruby gem's) and the engine keys ("<ns>/...",
// faye-redis' layout). Commands run inside Lua scripts are not counted (they
// cost no round trip). A MULTI ... EXEC block counts as one round trip.
import Redis, { type RedisOptions } from 'ioredis';
import { EngineKeys, PresenceKeys } from '../../lib/stores/keys';

export interface Counts {
  presenceCommands: number;
  presenceRoundTrips: number;
  engineCommands: number;
  engineRoundTrips: number;
  /** Commands by name, e.g. { zscore: 1000, zadd: 1000, ... } */
  engineByName: Record<string, number>;
  presenceByName: Record<string, number>;
}

export interface RedisCounter {
  counts(): Counts;
  reset(): void;
  stop(): void;
}

const empty = (): Counts => ({ presenceCommands: 0, presenceRoundTrips: 0, engineCommands: 0, engineRoundTrips: 0, engineByName: {}, presenceByName: {} });

/** `ignore`: connections (e.g. the bench's own, polling the keys) whose commands are not the server's. */
export async function countRedis(url: string, namespace: string, ignore: Redis[] = [], database = '9'): Promise<RedisCounter> {
  const ignored = new Set(ignore.map((r) => `${r.stream.localAddress}:${r.stream.localPort}`));
  // No database in the monitor's URL: ioredis would send SELECT after MONITOR,
  // and its reply would be mixed up with the monitored lines. MONITOR sees every database anyway.
  const { hostname, port } = new URL(url);
  // What connection.monitor() does, with the error listener first: on a busy
  // Redis, lines monitored in the same read as MONITOR's reply reach ioredis
  // before it is in monitoring mode, and it emits an error for each (the line
  // is dropped); without a listener yet that error ended the benchmark.
  // `monitor` is the option connection.monitor() sets; ioredis does not declare it.
  const monitor = new Redis({ host: hostname, port: Number(port || 6379), monitor: true } as RedisOptions);
  monitor.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    monitor.once('monitoring', () => resolve());
    monitor.once('end', () => reject(new Error('the MONITOR connection ended before monitoring')));
  });
  let counts = empty();
  const inMulti = new Map<string, 'presence' | 'engine' | null>();
  monitor.on('monitor', (_time: string, args: string[], source: string, db: string) => {
    if (source === 'lua' || db !== database || ignored.has(source)) return;
    const name = String(args[0]).toLowerCase();
    if (name === 'multi') {
      inMulti.set(source, null);
      return;
    }
    const open = inMulti.has(source);
    if (name === 'exec') {
      const kind = inMulti.get(source);
      inMulti.delete(source);
      if (kind === 'presence') counts.presenceRoundTrips += 1;
      if (kind === 'engine') counts.engineRoundTrips += 1;
      return;
    }
    const kind = args.some((a) => a.startsWith(new PresenceKeys(namespace).prefix)) ? 'presence' : args.some((a) => a.startsWith(new EngineKeys(namespace).prefix)) ? 'engine' : null;
    if (!kind) return;
    // ioredis sends a script's first call on a connection as EVAL, later ones as EVALSHA.
    const label = name === 'eval' ? 'evalsha' : name;
    const byName = kind === 'presence' ? counts.presenceByName : counts.engineByName;
    byName[label] = (byName[label] ?? 0) + 1;
    if (kind === 'presence') counts.presenceCommands += 1;
    else counts.engineCommands += 1;
    if (open) inMulti.set(source, kind);
    else if (kind === 'presence') counts.presenceRoundTrips += 1;
    else counts.engineRoundTrips += 1;
  });
  return {
    counts: () => structuredClone(counts),
    reset: () => {
      counts = empty();
    },
    stop: () => {
      monitor.disconnect();
    },
  };
}
