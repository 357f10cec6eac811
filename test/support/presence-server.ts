// A real presence server (Express 5 + http + attachFayeOnline) on an ephemeral
// port, on one of the two backends, and real Faye clients that attach `auth`
// the way the browser client does.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import faye from 'faye';
import Redis from 'ioredis';
import type { Sequelize } from 'sequelize';
import { attachFayeOnline, type FayeOnlineHandle, type FayeOnlineOptions } from '../../lib';
import { silentLogger } from '../../lib/log';
import { countStatements, openDatabase, type StatementCounter } from '../../lib/records';
import { createTestDatabase, type TestDatabase } from './mariadb';
import { createTestRedis, type TestRedis } from './redis';
import { createTestSqlite, type TestSqlite } from './sqlite';
import { PresenceKeys } from '../../lib/stores/keys';

export type Backend = 'mysql+redis' | 'sqlite+memory';
export const BACKENDS: Backend[] = ['mysql+redis', 'sqlite+memory'];

export interface PresenceServer {
  backend: Backend;
  url: string;
  port: number;
  handle: FayeOnlineHandle;
  /** The Express app the server runs (to mount more on it, e.g. the dashboard). */
  app: express.Express;
  sequelize: Sequelize;
  sql: StatementCounter;
  /** Raw SQL for assertions, on either backend. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  db?: TestDatabase;
  redis?: TestRedis;
  sqlite?: TestSqlite;
  namespace: string;
  close(): Promise<void>;
}

/** The infrastructure of one backend, shared by several server processes/instances. */
export interface Backing {
  backend: Backend;
  databaseUrl: string;
  db?: TestDatabase;
  redis?: TestRedis;
  sqlite?: TestSqlite;
  namespace: string;
  release(): Promise<void>;
}

export async function createBacking(backend: Backend): Promise<Backing> {
  if (backend === 'mysql+redis') {
    const db = await createTestDatabase('presence');
    const redis = await createTestRedis();
    return {
      backend, db, redis, databaseUrl: db.url, namespace: redis.namespace,
      async release() {
        await redis.cleanup();
        await db.drop();
      },
    };
  }
  const sqlite = createTestSqlite();
  return { backend, sqlite, databaseUrl: sqlite.url, namespace: 'faye', async release() { sqlite.remove(); } };
}

export async function startPresenceServer(
  backend: Backend,
  options: FayeOnlineOptions = {},
  backing?: Backing,
): Promise<PresenceServer> {
  const owned = !backing;
  const b = backing ?? (await createBacking(backend));
  const sequelize = openDatabase(b.databaseUrl);
  const sql = countStatements(sequelize);
  const app = express();
  const server = http.createServer(app);
  const handle = attachFayeOnline(app, server, {
    logger: silentLogger,
    database: sequelize,
    autoMigrate: true,
    // The gem's scenarios expect a leave at once; grace tests turn it on.
    leaveGrace: 0,
    ...(b.redis ? { redis: b.redis.url, namespace: b.namespace, gc: 1 } : {}),
    ...options,
  });
  // Every socket, upgraded WebSockets included (the HTTP server forgets those),
  // so that close() can end them all.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  await handle.ready;
  const port = (server.address() as AddressInfo).port;
  return {
    backend,
    url: `http://127.0.0.1:${port}/faye`,
    port,
    handle,
    app,
    sequelize,
    sql,
    async query<T>(text: string) {
      const [rows] = await sequelize.query(text);
      return rows as T[];
    },
    db: b.db,
    redis: b.redis,
    sqlite: b.sqlite,
    namespace: b.namespace,
    async close() {
      await handle.close();
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
      sql.stop();
      await sequelize.close();
      if (owned) await b.release();
    },
  };
}

export interface WireAuth {
  room_channel?: unknown;
  time_channel?: unknown;
  current_user?: unknown;
  [key: string]: unknown;
}

export function auth(uid: number, uname: string, room = '/classes/4', timeChannel = '/courses/5/lessons/1'): WireAuth {
  return { room_channel: room, time_channel: timeChannel, current_user: { uid, uname } };
}

export interface TestClient {
  faye: faye.Client;
  /** Resolves with the clientId once the client has handshaken and connected. */
  connected(): Promise<string>;
  clientId(): string | undefined;
  /** Stops sending anything, as a page whose network died: no /meta/disconnect. */
  vanish(): void;
  /** Errors the server returned to this client (Bayeux `error` fields). */
  errors: string[];
  disconnect(): Promise<void>;
}

export function onlineClient(
  url: string,
  wireAuth: WireAuth,
  options: { transport?: 'long-polling' | 'websocket'; connectTimeoutMs?: number } = {},
): TestClient {
  const client = new faye.Client(url, { timeout: 10, retry: 1 });
  client.disable('autodisconnect');
  if (options.transport === 'long-polling') client.disable('websocket');
  const errors: string[] = [];
  let vanished = false;
  let connectSent: () => void = () => undefined;
  const firstConnectSent = new Promise<void>((resolve) => {
    connectSent = resolve;
  });
  client.addExtension({
    outgoing(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
      if (vanished) return; // dropped: nothing leaves this "page" any more
      message.auth = { ...(message.auth as object), ...wireAuth };
      if (message.channel === '/meta/connect') connectSent();
      callback(message);
    },
    incoming(message: faye.BayeuxMessage, callback: (m: faye.BayeuxMessage) => void) {
      if (message.error) errors.push(String(message.error));
      callback(message);
    },
  });
  return {
    faye: client,
    errors,
    clientId: () => (client as unknown as { _dispatcher: { clientId?: string } })._dispatcher.clientId,
    connected() {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client did not connect; errors: ${errors.join('; ')}`)), options.connectTimeoutMs ?? 10_000);
        client.connect(() => {
          // Faye calls back once the handshake succeeded, which can be before
          // the first /meta/connect (the one presence tracks) left the client:
          // wait for it to be sent, and a moment for it to reach the server.
          void firstConnectSent.then(() => setTimeout(() => {
            clearTimeout(timer);
            resolve((client as unknown as { _dispatcher: { clientId: string } })._dispatcher.clientId);
          }, 100));
        });
      });
    },
    vanish() {
      vanished = true;
      const dispatcher = (client as unknown as { _dispatcher: { close(): void } })._dispatcher;
      dispatcher.close();
    },
    async disconnect() {
      if (vanished) return;
      // Faye settles a disconnect when the server answers; a client that never
      // got a clientId (refused at handshake) would wait for ever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.resolve(client.disconnect()).catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 3000);
        }),
      ]);
      clearTimeout(timer);
      vanished = true;
      (client as unknown as { _dispatcher: { close(): void } })._dispatcher.close();
    },
  };
}

// Kept here too, where most tests import it from.
export { eventually } from './wait';

/** The clientIds per uid of a room or time channel, as the server's store holds them. */
export async function clientIdsByUser(server: PresenceServer, channel: string): Promise<Record<string, string[]>> {
  if (server.redis) {
    // The Ruby gem's own key and JSON values (docs/rails.md), read raw.
    const raw = await server.redis.redis.hgetall(new PresenceKeys(server.namespace).channel(channel));
    return Object.fromEntries(Object.entries(raw).map(([uid, json]) => [uid, JSON.parse(json) as string[]]));
  }
  const members = await server.handle.members(channel);
  return Object.fromEntries(members.map((m) => [String(m.uid), m.clientIds]));
}

export function newRedis(url: string): Redis {
  return new Redis(url);
}
