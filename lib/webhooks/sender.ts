// The webhook sender: one per cluster (whoever holds the lease in SQL), it
// POSTs the events of faye_online_events in id order, in signed JSON batches,
// and moves the cursor only after a 2xx. A failed batch holds back the whole
// stream (docs/webhooks.md says why) and is retried with backoff until each
// of its events has been failing for `retryFor`; then it is dead-lettered and
// the stream goes on. Every time decision goes through the injected clock.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Sequelize } from 'sequelize';
import type { Clock, ClockTimer } from '../core/clock';
import type { Logger } from '../log';
import { backoffDelay } from './backoff';
import type { Registry } from 'prom-client';
import { WebhookMetrics } from './metrics';
import type { ResolvedWebhooks } from './options';
import { WEBHOOK_HEADERS, webhookSignature } from './signature';
import { WebhookState, type EventRow, type Fence, type StreamState } from './state';

export interface WebhookSenderOptions {
  sequelize: Sequelize;
  webhooks: ResolvedWebhooks;
  clock: Clock;
  logger: Logger;
  metrics?: WebhookMetrics;
  /** Names this process in the lease row (`webhooks status` shows it). Default: host:pid:random. */
  holder?: string;
  /** For tests: the jitter's randomness. */
  random?: () => number;
  /** Called after each POST with its outcome (tests and traces). */
  onAttempt?: (attempt: Attempt) => void;
}

export interface Attempt {
  batch: string;
  eventIds: number[];
  ok: boolean;
  error?: string;
  replay: boolean;
}

interface Batch {
  events: EventRow[];
  /** The cursor after this batch: past the skipped kinds too. Unchanged for a replay or late batch. */
  throughId: number;
  replay: boolean;
  /** Rows whose ids the stream had passed as gaps, committed after all (see `passed`). */
  late?: boolean;
  /** Set when the scan stopped at a gap in the ids: ms until it may be passed. */
  gapWaitMs?: number;
}

/** The JSON of one event as receivers get it. */
export function eventPayload(event: EventRow): Record<string, unknown> {
  return {
    id: event.id,
    idempotency_key: event.eventKey,
    kind: event.kind,
    uid: event.uid,
    channel: event.channel,
    occurred_at: new Date(event.occurredMs).toISOString(),
    occurred_ms: event.occurredMs,
    reason: event.reason,
    seq: event.seq,
    client_id: event.clientId,
  };
}

/** Same events, same batch id: a retried batch keeps its id. */
export function batchId(events: readonly EventRow[]): string {
  return `b_${createHash('sha256').update(events.map((e) => e.eventKey).join('\n')).digest('hex').slice(0, 32)}`;
}

/** How long ids passed as gaps are watched for a late commit, ms. */
const LATE_WATCH_MS = 10 * 60 * 1000;
/** Most ids of one gap that are watched (a larger gap is burnt ids, not commits in progress). */
const LATE_WATCH_IDS = 100;

export class WebhookSender {
  readonly holder: string;
  private readonly state: WebhookState;
  private readonly options: ResolvedWebhooks;
  private lease: { version: number; renewedAt: number } | null = null;
  private timer: ClockTimer | undefined;
  private running: Promise<void> | null = null;
  private closed = false;
  /** First time each gap (its first missing id) was seen. */
  private readonly gaps = new Map<number, number>();
  /**
   * Ids passed as gaps, and when: watched for LATE_WATCH_MS in case the row
   * was only slow to commit, so that it is still sent (late) instead of lost.
   */
  private readonly passed = new Map<number, number>();

  constructor(private readonly deps: WebhookSenderOptions) {
    this.options = deps.webhooks;
    this.state = new WebhookState(deps.sequelize);
    this.holder = deps.holder ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  start(): void {
    this.schedule(0);
  }

  /** Resolves when no tick is running (tests step a ManualClock with it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  get holdsLease(): boolean {
    return this.lease !== null;
  }

  /** Stops sending and releases the lease, so another process takes over at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.idle();
    if (this.lease) await this.state.releaseLease(this.holder, this.lease.version).catch(() => undefined);
    this.lease = null;
    this.deps.metrics?.leaseHeld(false);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.after(ms, () => {
      if (this.running || this.closed) return;
      this.running = this.tick()
        .catch((error) => {
          this.deps.logger.error({ err: error }, 'webhooks: the sender failed; trying again shortly');
          this.schedule(this.options.pollMs);
        })
        .finally(() => { this.running = null; });
    });
  }

  /** One step: hold the lease, then send the next batch if one is due. Always schedules the next step. */
  private async tick(): Promise<void> {
    const { clock, metrics } = this.deps;
    const renewEvery = Math.floor(this.options.leaseMs / 3);
    let now = clock.now();
    const state = await this.state.ensure(now);
    if (!(await this.holdLease(state, now))) {
      metrics?.lagSeconds(0);
      this.schedule(renewEvery);
      return;
    }
    if (state.nextAttemptMs !== null && state.nextAttemptMs > now) {
      this.schedule(Math.min(state.nextAttemptMs - now, renewEvery));
      return;
    }
    const batch = await this.nextBatch(state, now);
    const fence: Fence = { holder: this.holder, leaseVersion: this.lease!.version, cursorId: state.cursorId };
    if (batch.events.length === 0) {
      metrics?.lagSeconds(0);
      // Only kinds we do not send (or nothing): move past them.
      if (batch.throughId > state.cursorId) await this.state.delivered(fence, { throughId: batch.throughId, count: 0, replayed: [] }, now);
      this.schedule(Math.min(batch.gapWaitMs ?? this.options.pollMs, this.options.pollMs, renewEvery));
      return;
    }
    metrics?.lagSeconds((now - batch.events[0].occurredMs) / 1000);
    const id = batchId(batch.events);
    const result = await this.post(id, batch.events);
    this.deps.onAttempt?.({ batch: id, eventIds: batch.events.map((e) => e.id), ok: result.ok, error: result.error, replay: batch.replay });
    metrics?.requestDone(result.ok, batch.events.length);
    now = clock.now();
    const replayed = batch.replay ? batch.events.map((e) => e.id) : [];
    if (result.ok) {
      if (batch.late) for (const event of batch.events) this.passed.delete(event.id);
      const written = await this.state.delivered(fence, { throughId: batch.throughId, count: batch.events.length, replayed }, now);
      if (!written) this.deps.logger.info({ batch: id }, 'webhooks: batch delivered, but the stream moved meanwhile (replay or another sender); reading it again');
      if (state.attempts > 0) this.deps.logger.info({ batch: id, attempts: state.attempts + 1 }, 'webhooks: delivered after retrying');
      this.schedule(0);
      return;
    }
    await this.failed(state, fence, batch, id, result.error ?? 'failed', now);
  }

  private async failed(state: StreamState, fence: Fence, batch: Batch, id: string, error: string, now: number): Promise<void> {
    const { retryFor, minBackoffMs, maxBackoffMs } = this.options;
    const attempts = state.attempts + 1;
    const failingSinceMs = state.failingSinceMs ?? now;
    const delay = backoffDelay(attempts, minBackoffMs, maxBackoffMs, this.deps.random);
    // An event is given up once it has existed, with deliveries failing, for
    // retryFor: an event written late in a long outage still gets its full window.
    const expired = (event: EventRow) => Math.max(batch.replay ? 0 : event.occurredMs, failingSinceMs) + retryFor <= now;
    let dead = 0;
    while (dead < batch.events.length && expired(batch.events[dead])) dead++;
    if (batch.replay && dead < batch.events.length) dead = 0; // a replay batch goes back whole or not at all
    if (dead > 0) {
      const given = batch.events.slice(0, dead);
      const throughId = batch.replay || batch.late ? state.cursorId : dead === batch.events.length ? batch.throughId : given[dead - 1].id;
      if (batch.late) for (const event of given) this.passed.delete(event.id);
      const written = await this.state.deadLetter(fence, {
        stream: batch.replay ? [] : given.map((e) => e.id), replayed: batch.replay ? given.map((e) => e.id) : [], throughId,
      }, { attempts, failingSinceMs, nextAttemptMs: now, error }, now);
      if (written) {
        this.deps.metrics?.deadLettered(given.length);
        this.deps.logger.error({ batch: id, events: given.length, firstId: given[0].id, lastId: given[dead - 1].id, attempts, error },
          `webhooks: gave up ${given.length} event(s) after ${Math.round(retryFor / 60000)} min of failures; \`faye-online webhooks replay\` sends them again`);
      }
      this.schedule(0);
      return;
    }
    await this.state.failed(fence, { attempts, failingSinceMs, nextAttemptMs: now + delay, error }, now);
    this.deps.logger.warn({ batch: id, events: batch.events.length, attempts, retryInMs: delay, error }, 'webhooks: delivery failed; retrying');
    this.schedule(Math.min(delay, Math.floor(this.options.leaseMs / 3)));
  }

  /** Ours already (renewed when a third of it has passed), or free/expired and taken now. */
  private async holdLease(state: StreamState, now: number): Promise<boolean> {
    const { leaseMs } = this.options;
    if (this.lease && state.holder === this.holder && state.leaseVersion === this.lease.version) {
      // Still ours by holder and version (even if this process was paused past
      // the expiry, nobody took it over meanwhile): renew when due.
      if (now - this.lease.renewedAt < leaseMs / 3 && (state.leaseUntilMs ?? 0) > now) return true;
      if (await this.state.renewLease(this.holder, this.lease.version, now, leaseMs)) {
        this.lease.renewedAt = now;
        return true;
      }
    }
    if (this.lease) {
      this.deps.logger.warn({ holder: this.holder, now: state.holder }, 'webhooks: lost the lease; another process sends now');
      this.lease = null;
    }
    const version = await this.state.takeLease(this.holder, state, now, leaseMs, this.options.events);
    this.deps.metrics?.leaseHeld(version !== null);
    if (version === null) return false;
    this.lease = { version, renewedAt: now };
    state.holder = this.holder;
    state.leaseVersion = version;
    this.deps.logger.info({ holder: this.holder, cursor: state.cursorId }, 'webhooks: this process is the sender (took the lease)');
    return true;
  }

  private async nextBatch(state: StreamState, now: number): Promise<Batch> {
    const { batchSize, gapWaitMs } = this.options;
    const replay = await this.state.replayQueue(batchSize);
    if (replay.length > 0) return { events: replay, throughId: state.cursorId, replay: true };
    const wanted = new Set<string>(this.options.events);
    const late = await this.lateRows(state.cursorId, now, wanted);
    if (late.length > 0) return { events: late.slice(0, batchSize), throughId: state.cursorId, replay: false, late: true };
    const rows = await this.state.eventsAfter(state.cursorId, batchSize * 2 + 16);
    const events: EventRow[] = [];
    let expected = state.cursorId + 1;
    let throughId = state.cursorId;
    let waitMs: number | undefined;
    for (const row of rows) {
      if (row.id !== expected) {
        // A missing id may be an insert still committing: wait for it a while.
        const seen = this.gaps.get(expected) ?? now;
        this.gaps.set(expected, seen);
        if (now - seen < gapWaitMs) {
          waitMs = seen + gapWaitMs - now;
          break;
        }
        for (let id = expected; id < row.id && id < expected + LATE_WATCH_IDS; id++) if (!this.passed.has(id)) this.passed.set(id, now);
      }
      if (wanted.has(row.kind)) {
        if (events.length === batchSize) break;
        events.push(row);
      }
      this.passed.delete(row.id); // it committed in time after all: sent in order
      expected = row.id + 1;
      throughId = row.id;
    }
    for (const first of this.gaps.keys()) if (first <= state.cursorId) this.gaps.delete(first);
    return { events, throughId, replay: false, ...(waitMs === undefined ? {} : { gapWaitMs: waitMs }) };
  }

  /** Rows that appeared, behind the cursor, under ids the stream passed as gaps. */
  private async lateRows(cursorId: number, now: number, wanted: ReadonlySet<string>): Promise<EventRow[]> {
    const watched: number[] = [];
    for (const [id, since] of this.passed) {
      if (now - since > LATE_WATCH_MS) this.passed.delete(id);
      else if (id <= cursorId) watched.push(id);
    }
    if (watched.length === 0) return [];
    const rows = await this.state.eventsByIds(watched);
    for (const row of rows) {
      if (wanted.has(row.kind)) continue;
      this.passed.delete(row.id);
    }
    const late = rows.filter((row) => wanted.has(row.kind));
    if (late.length > 0) this.deps.logger.warn({ ids: late.map((e) => e.id) }, 'webhooks: events committed after the stream had passed their ids; sending them late (out of id order)');
    return late;
  }

  private async post(id: string, events: EventRow[]): Promise<{ ok: boolean; error?: string }> {
    const now = this.deps.clock.now();
    const body = JSON.stringify({ batch: id, sent_at: new Date(now).toISOString(), events: events.map(eventPayload) });
    const timestamp = Math.floor(now / 1000);
    try {
      const response = await fetch(this.options.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'faye-online-webhooks',
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: webhookSignature(body, timestamp, this.options.secrets),
          [WEBHOOK_HEADERS.batch]: id,
        },
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return { ok: false, error: `HTTP ${response.status} from ${new URL(this.options.url).host}` };
    } catch (error) {
      return { ok: false, error: describeFetchError(error, this.options.timeoutMs) };
    }
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms (timeoutMs)`;
  if (e.cause?.code) return `${e.cause.code}: ${e.cause.message ?? e.message}`;
  return e.message ?? String(error);
}

/**
 * The sender of an attached server, with its metrics in the server's registry
 * when it has one; undefined when the `webhooks` option is off.
 */
export function webhookDelivery(options: Omit<WebhookSenderOptions, 'webhooks' | 'metrics'> & { webhooks: ResolvedWebhooks | undefined; register?: Registry }):
  { start(): void; close(): Promise<void> } | undefined {
  const { webhooks, register, ...rest } = options;
  if (!webhooks) return undefined;
  const metrics = register ? new WebhookMetrics(register) : undefined;
  const sender = new WebhookSender({ ...rest, webhooks, metrics });
  return {
    start: () => sender.start(),
    async close() {
      await sender.close();
      metrics?.close();
    },
  };
}
