// The raw Bayeux client generator (bench/bayeux-worker.ts) run in worker
// threads of this process: open N clients spread over the threads, ask their
// counts, close them.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RawClientSpec } from '../bayeux-worker';
import { progress } from './report';

export interface RawClientStats {
  delivered: number;
  connectReplies: number;
  errors: number;
  lastError: string;
}

export interface BayeuxLoad {
  /**
   * Opens the clients (spread round-robin over the threads), `concurrency` handshakes at a time per thread;
   * with `pace` (clients per second, all threads together) no faster than that.
   */
  open(specs: RawClientSpec[], concurrency: number, label: string, pace?: number): Promise<{ connected: number; failed: number; seconds: number; lastError: string }>;
  stats(): Promise<RawClientStats>;
  close(): Promise<void>;
  end(): Promise<void>;
}

function next<T>(worker: Worker, type: string, limitMs: number, onOther?: (message: any) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`client thread sent no '${type}' within ${limitMs} ms`)), limitMs);
    const onMessage = (message: any) => {
      if (message?.type === type) finish(null, message);
      else onOther?.(message);
    };
    const onExit = (code: number) => finish(new Error(`client thread exited (${code}) before '${type}'`));
    const onError = (error: Error) => finish(new Error(`client thread failed before '${type}': ${error.message}`));
    function finish(error: Error | null, message?: T) {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      worker.off('error', onError);
      if (error) reject(error);
      else resolve(message!);
    }
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    worker.once('error', onError);
  });
}

// A worker thread does not inherit `--import tsx`'s loader for its entry file: it registers tsx itself.
const WORKER_SOURCE = `require('tsx/cjs'); require(${JSON.stringify(path.resolve(__dirname, '..', 'bayeux-worker.ts'))});`;

/**
 * `clients` clients spread over `rooms` rooms (uid i+1 in room r(uid % rooms)), one in 1/`longPolling` on
 * long-polling, each subscribed to the `subscribe` names (comma-separated) under its room. `announce`: each
 * publishes on <room>/user_list once subscribed, as an app without presence would: 'arrival', a small
 * message naming itself; 'list', the room's whole list as the gem's server sends it on every join
 * (`{"count": N, "user_list": [...]}`, the uids of the room opened before it and its own).
 */
export function roomClients(o: { clients: number; url: string; rooms: number; longPolling: number; subscribe: string; announce?: 'arrival' | 'list' }): RawClientSpec[] {
  const lpEvery = o.longPolling > 0 ? Math.round(1 / o.longPolling) : Infinity;
  const lists = new Map<string, number[]>();
  return Array.from({ length: o.clients }, (_, i) => {
    const uid = i + 1;
    const room = `/rooms/r${uid % o.rooms}`;
    let data: unknown;
    if (o.announce === 'arrival') data = { joined: { uid, uname: `user${uid}` } };
    if (o.announce === 'list') {
      const list = lists.get(room) ?? [];
      list.push(uid);
      lists.set(room, list);
      data = { count: list.length, user_list: [...list] };
    }
    return {
      url: o.url,
      transport: i % lpEvery === lpEvery - 1 ? 'long-polling' : 'websocket',
      auth: { room_channel: room, time_channel: `/lessons/l${uid % o.rooms}`, current_user: { uid, uname: `user${uid}` } },
      subscribe: o.subscribe.split(',').filter(Boolean).map((name) => `${room}/${name}`),
      ...(data !== undefined ? { announce: { channel: `${room}/user_list`, data } } : {}),
    };
  });
}

export function startBayeuxLoad(threads: number): BayeuxLoad {
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true }));
  return {
    async open(specs, concurrency, label, pace = 0) {
      const started = Date.now();
      const counts = workers.map(() => ({ connected: 0, failed: 0 }));
      const ticker = setInterval(() => {
        const connected = counts.reduce((a, c) => a + c.connected, 0);
        const failed = counts.reduce((a, c) => a + c.failed, 0);
        progress(`${label}: ${connected}/${specs.length} connected${failed ? `, ${failed} failed` : ''}`);
      }, 3000);
      try {
        const replies = await Promise.all(workers.map((worker, w) => {
          const reply = next<{ connected: number; failed: number; lastError: string }>(worker, 'opened', 600_000, (message) => {
            if (message.type === 'progress') counts[w] = message;
          });
          worker.postMessage({ type: 'open', clients: specs.filter((_, i) => i % workers.length === w), concurrency, pace: pace / workers.length });
          return reply;
        }));
        return {
          connected: replies.reduce((a, r) => a + r.connected, 0),
          failed: replies.reduce((a, r) => a + r.failed, 0),
          seconds: (Date.now() - started) / 1000,
          lastError: replies.map((r) => r.lastError).filter(Boolean).join('; '),
        };
      } finally {
        clearInterval(ticker);
      }
    },
    async stats() {
      const all = await Promise.all(workers.map((worker) => {
        const reply = next<RawClientStats>(worker, 'stats', 10_000);
        worker.postMessage({ type: 'stats' });
        return reply;
      }));
      return {
        delivered: all.reduce((a, s) => a + s.delivered, 0),
        connectReplies: all.reduce((a, s) => a + s.connectReplies, 0),
        errors: all.reduce((a, s) => a + s.errors, 0),
        lastError: all.map((s) => s.lastError).filter(Boolean).join('; '),
      };
    },
    async close() {
      await Promise.all(workers.map((worker) => {
        const reply = next(worker, 'closed', 300_000);
        worker.postMessage({ type: 'close' });
        return reply;
      }));
    },
    async end() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
