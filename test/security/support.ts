// Helpers of the security suites: raw Bayeux over HTTP (a client that does not
// play by the rules), a logger that records its lines, and a snapshot of
// everything presence writes, to prove that a refused message wrote nothing.
import type { Logger } from '../../lib/log';
import type { PresenceServer } from '../support/presence-server';
import { PresenceKeys } from '../../lib/stores/keys';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (fields: object, message: string) => lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** Lines at warn or error from index `from` on. */
export function loudLines(lines: LogLine[], from: number): LogLine[] {
  return lines.slice(from).filter((line) => line.level === 'warn' || line.level === 'error');
}

export type Reply = Record<string, unknown> & { successful?: boolean; error?: string; clientId?: string };

/** POSTs a body to the Faye mount as JSON; replies parsed when they are JSON. */
export async function postBayeux(
  server: PresenceServer,
  body: unknown,
  init: { raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; replies: Reply[]; text: string }> {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  let replies: Reply[] = [];
  try {
    replies = JSON.parse(text) as Reply[];
  } catch {
    /* not JSON: an HTTP-level refusal */
  }
  return { status: response.status, replies, text };
}

let ids = 0;
const nextId = () => `t${++ids}`;

/** A clientId from a handshake without auth (so that nothing is tracked yet). */
export async function rawHandshake(server: PresenceServer): Promise<string> {
  const { replies } = await postBayeux(server, [{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'], id: nextId() }]);
  const clientId = replies[0]?.clientId;
  if (typeof clientId !== 'string') throw new Error(`handshake failed: ${JSON.stringify(replies)}`);
  return clientId;
}

/** One /meta/connect that the server answers at once (advice timeout 0). */
export async function rawConnect(server: PresenceServer, clientId: string, auth: unknown): Promise<Reply> {
  const { replies } = await postBayeux(server, [{ channel: '/meta/connect', clientId, connectionType: 'long-polling', advice: { timeout: 0 }, id: nextId(), auth }]);
  return replies.find((reply) => reply.channel === '/meta/connect') ?? replies[0];
}

export async function rawPublish(server: PresenceServer, clientId: string, channel: string, data: unknown, auth?: unknown): Promise<Reply> {
  const { replies } = await postBayeux(server, [{ channel, clientId, data, id: nextId(), ...(auth === undefined ? {} : { auth }) }]);
  return replies[0];
}

/**
 * Everything presence writes: the presence keys under the namespace (with the
 * content of the clientId hashes) and the four tables of the gem.
 */
export async function writtenState(server: PresenceServer): Promise<unknown> {
  await server.handle.settled();
  const redis: Record<string, unknown> = {};
  if (server.redis) {
    for (const key of await server.redis.keys()) {
      if (!key.startsWith(new PresenceKeys(server.namespace).prefix)) continue;
      // Hashes (the gem's clientId maps, our arrival and sighting records) by content, strings as they are.
      const type = await server.redis.redis.type(key);
      redis[key] = type === 'hash' ? await server.redis.redis.hgetall(key) : type === 'string' ? await server.redis.redis.get(key) : `(${type})`;
    }
  }
  const table = (sql: string) => server.query(sql);
  return {
    redis,
    channels: await table('SELECT id, name FROM faye_channels ORDER BY id'),
    lists: await table('SELECT channel_id, user_info_list FROM faye_channel_online_lists ORDER BY id'),
    times: await table('SELECT user_id, online_times FROM faye_user_online_times ORDER BY id'),
    logs: await table('SELECT status, uid, channel_id, clientId FROM faye_user_login_logs ORDER BY t, clientId, status'),
  };
}

