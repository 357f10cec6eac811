// The simulated world: Faye's engine, the pages, and 1-3 server processes that
// each run the real presence code (PresenceExtension → Presence → store and
// Records, BeforeLeave, reconcile) on one ManualClock. Only Faye's engine and the
// wiring of lib/edge/attach.ts are modelled here; everything that decides
// presence is the library's own.
import type { IncomingMessage } from 'node:http';
import type { BayeuxMessage } from 'faye';
import type { Sequelize } from 'sequelize';
import { ManualClock, type Clock, type ClockTimer } from '../../lib/core/clock';
import { Departures } from '../../lib/edge/departures';
import { Presence, type DepartureReason } from '../../lib/core/presence';
import { reconcile, type ReconcileReport } from '../../lib/core/reconcile';
import { BeforeLeave } from '../../lib/edge/before-leave';
import { PresenceExtension } from '../../lib/edge/extension';
import { BEFORE_LEAVE_CHANNEL, ENGAGEMENT_CHANNEL } from '../../lib/protocol';
import type { Logger } from '../../lib/log';
import { EventDrainer, recordRepair, type EventOutbox } from '../../lib/events';
import { Records } from '../../lib/records';
import type { PresenceStore } from '../../lib/stores/store';
import type { Step } from './scenario';
import { Truth, type Stay } from './truth';

/** The library's defaults: the settings the simulation checks. */
export const SETTINGS = {
  timeoutMs: 10_000,
  gcMs: 60_000,
  leaveGraceMs: 5_000,
  beforeLeaveDelayMs: 3_000,
  maxClientIdsPerUser: 32,
  reconcileIntervalMs: 300_000,
};

/** What a backend gives one simulated process. */
export interface ProcessResources {
  store: PresenceStore;
  sequelize: Sequelize;
  /** Where the store appends presence events (the `events` option); the process's drainer empties it when the checks ask. */
  outbox: EventOutbox;
  /** Drops the process's connections (a crash or the end of the run). */
  close(): Promise<void>;
}

export interface WorldBackend {
  name: string;
  /** Engines of a cluster expire clients by GC sweeps; the embedded one by a timer per client. */
  cluster: boolean;
  openProcess(clock: Clock): ProcessResources;
}

export interface Observed {
  diffs: Array<{ room: string; uid: number; seq: number; at: number; kind: 'join' | 'leave'; reason?: DepartureReason }>;
  lists: Array<{ room: string; list: number[]; at: number }>;
  errors: string[];
}

/** A clock for one process: its timers die with it. */
class ProcessClock implements Clock {
  private readonly timers = new Set<ClockTimer>();
  private dead = false;

  constructor(private readonly base: ManualClock) {}

  now(): number {
    return this.base.now();
  }

  after(ms: number, callback: () => void): ClockTimer {
    const handle: ClockTimer = {
      cancel: () => {
        this.timers.delete(handle);
        timer.cancel();
      },
    };
    const timer = this.base.after(ms, () => {
      this.timers.delete(handle);
      if (!this.dead) callback();
    });
    this.timers.add(handle);
    return handle;
  }

  get pending(): number {
    return this.timers.size;
  }

  stop(): void {
    this.dead = true;
    for (const timer of [...this.timers]) timer.cancel();
  }
}

const REQUEST = {} as IncomingMessage;

export class SimProcess {
  readonly clock: ProcessClock;
  readonly presence: Presence;
  readonly records: Records;
  /** Moves the outbox into faye_online_events; drained when the checks ask (no timer of its own, so the run stays in simulated time). */
  readonly events: EventDrainer;
  readonly beforeLeave: BeforeLeave;
  readonly extension: PresenceExtension;
  readonly resources: ProcessResources;
  alive = true;
  private readonly inFlight = new Set<Promise<unknown>>();
  // What the edge witnessed of each client's end (before_leave, /meta/disconnect), as bindDepartures wires it on a server (lib/edge/departures.ts).
  private readonly departures: Departures;

  constructor(readonly slot: number, private readonly world: World) {
    this.clock = new ProcessClock(world.clock);
    this.resources = world.backend.openProcess(this.clock);
    const logger = world.logger(`p${slot}`);
    this.records = new Records({ sequelize: this.resources.sequelize, logger, timeZone: 'UTC', events: true });
    this.events = new EventDrainer({ outbox: this.resources.outbox, sequelize: this.resources.sequelize, logger, clock: this.clock, intervalMs: 1000 });
    this.presence = new Presence({
      store: this.resources.store, records: this.records, logger, clock: this.clock, leaveGraceMs: SETTINGS.leaveGraceMs, engagement: true,
    });
    const engine = world.engine;
    this.departures = new Departures({
      clock: this.clock,
      trackedLastSeen: (clientId) => this.presence.lastSeen(clientId),
      engineLastSeen: async (clientId) => (world.backend.cluster ? engine.lastSeen(clientId, this) : undefined),
    });
    this.beforeLeave = new BeforeLeave({
      delayMs: SETTINGS.beforeLeaveDelayMs,
      clock: this.clock,
      liveness: {
        lastSeen: async (clientId) => engine.lastSeen(clientId, this),
        nudge: (clientId) => world.nudge(clientId),
        destroy: (clientId, at) => {
          this.departures.decide(clientId, at);
          engine.destroy(clientId, this, 'disconnect');
        },
      },
      onError: (error, clientId) => logger.error({ err: error, clientId }, 'before_leave check failed'),
    });
    this.extension = new PresenceExtension({
      presence: this.presence,
      beforeLeave: this.beforeLeave,
      logger,
      maxMessageBytes: 64 * 1024,
      clientExists: async (clientId) => engine.exists(clientId),
      ping: (clientId) => engine.ping(clientId),
      rememberedAuth: (clientId) => this.resources.store.rememberedAuth(clientId),
      track: (work) => this.track(work),
      isReady: () => this.alive,
      clock: this.clock,
    });
    const observed = world.observed;
    this.presence.on('transition', (t) => {
      const at = world.clock.now();
      if (t.list) observed.lists.push({ room: t.room, list: [...t.list], at });
      if (t.membership === 'joined') observed.diffs.push({ room: t.room, uid: t.uid, seq: t.seq, at, kind: 'join' });
      if (t.membership === 'left') observed.diffs.push({ room: t.room, uid: t.uid, seq: t.seq, at, kind: 'leave', reason: t.reason ?? undefined });
    });
    this.presence.on('writeFailed', (error) => observed.errors.push(`p${slot}: an SQL write failed for good: ${error.message}`));
  }

  track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.catch(() => undefined).finally(() => this.inFlight.delete(work));
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * Everything this process started has finished, or what is left waits for
   * the clock: an SQL write waiting to be retried ends only when simulated
   * time moves on (the clock runs its timer next).
   */
  async settled(): Promise<void> {
    let stop = () => {};
    const waitsForClock = new Promise<void>((resolve) => {
      if (this.waitsForClock) return resolve();
      const retrying = () => resolve();
      this.presence.on('retrying', retrying);
      stop = () => this.presence.off('retrying', retrying);
    });
    const drained = (async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.presence.idle();
    })();
    try {
      await Promise.race([drained, waitsForClock]);
    } finally {
      stop();
    }
  }

  get waitsForClock(): boolean {
    return this.presence.writesWaitingToRetry > 0;
  }

  /** A message from a page, through the real extension; resolves with what Faye would answer. */
  receive(message: Record<string, unknown>): Promise<BayeuxMessage> {
    if (message.channel === '/meta/disconnect' && this.presence.isKnown(String(message.clientId))) this.departures.disconnected(String(message.clientId));
    const answer = new Promise<BayeuxMessage>((resolve) => this.extension.incoming(message as BayeuxMessage, REQUEST, resolve)).then((passed) => {
      // Faye answers a connect the edge let through with success (the engine knows the client): attach passes the reply back out.
      if (passed.channel === '/meta/connect' && !passed.error) this.extension.replied({ channel: '/meta/connect', clientId: passed.clientId, successful: true } as BayeuxMessage);
      return passed;
    });
    this.track(answer);
    return answer;
  }

  /** Faye's 'disconnect' event for a client this process's engine destroyed (bindDepartures, lib/edge/departures.ts). */
  disconnected(clientId: string, info: { reason: 'timeout' | 'disconnect'; lastSeen?: number } | undefined): void {
    this.extension.forget(clientId);
    const { reason, at } = this.departures.destroyed(clientId, info);
    this.track(this.presence.depart(clientId, reason, at).catch((error) => this.world.observed.errors.push(`p${this.slot}: departure failed: ${(error as Error).message}`)));
  }

  /** Faye's 'close' event: another process destroyed the client (bindDepartures forgets it a second later). */
  closed(clientId: string): void {
    this.clock.after(1000, () => this.presence.forgetLocally(clientId));
  }

  reconcile(): Promise<ReconcileReport> {
    const work = reconcile({
      store: this.resources.store,
      records: this.records,
      logger: this.world.logger(`p${this.slot} reconcile`),
      clock: this.clock,
      clientExists: async (clientId) => this.world.engine.exists(clientId),
      localClientIds: () => this.presence.knownClientIds(),
      departOrphan: async (clientId) => {
        const { reason, at } = await this.departures.orphan(clientId);
        return this.presence.depart(clientId, reason, at);
      },
      forUser: (uid, task) => this.presence.forUser(uid, task),
      onListChanged: (room, list) => this.world.observed.lists.push({ room, list: [...list], at: this.clock.now() }),
      engagement: true,
      leaveAbandoned: (pending, scope) => this.presence.leaveAbandoned(pending, scope),
      listRepaired: (repair) => recordRepair(this.resources.sequelize, repair),
    });
    this.track(work);
    return work;
  }

  /** Killed: timers, memory and pending leaves are gone; nothing is cleaned up. */
  async crash(): Promise<void> {
    this.alive = false;
    this.clock.stop();
    this.beforeLeave.close();
    await this.resources.close();
  }

  /** Pending timers of this process (grace periods, before_leave checks, forgetting). */
  get timers(): number {
    return this.clock.pending;
  }
}

/** Faye's engine, as the presence code sees it: clients, pings, expiry, destroy. */
export class SimEngine {
  private readonly clients = new Map<string, { lastPing: number; expiry?: ClockTimer }>();
  private counter = 0;

  constructor(private readonly world: World) {}

  handshake(): string {
    const clientId = `sim${this.world.runId}x${++this.counter}`;
    this.clients.set(clientId, { lastPing: this.world.clock.now() });
    this.ping(clientId);
    return clientId;
  }

  /** Faye's clientExists: the memory engine until it destroyed the client; the Redis engine while its last ping is newer than 1.6 x timeout. */
  exists(clientId: string): boolean {
    const client = this.clients.get(clientId);
    if (!client) return false;
    return !this.world.backend.cluster || client.lastPing >= this.world.clock.now() - 1.6 * SETTINGS.timeoutMs;
  }

  /** The liveness check of before_leave (beforeLeaveLiveness, lib/edge/broadcasts.ts): the Redis engine's last ping, or the process's own sighting. */
  lastSeen(clientId: string, process: SimProcess): number | null {
    const client = this.clients.get(clientId);
    if (this.world.backend.cluster) return client ? client.lastPing : null;
    return this.exists(clientId) ? process.presence.lastSeen(clientId) ?? 0 : null;
  }

  ping(clientId: string): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    client.lastPing = this.world.clock.now();
    if (this.world.backend.cluster) return;
    // Faye's memory engine: a timer per client, 2 x timeout after its last ping.
    client.expiry?.cancel();
    client.expiry = this.world.clock.after(2 * SETTINGS.timeoutMs, () => this.destroy(clientId, this.world.anyProcess(), 'timeout'));
  }

  /** Destroys a client; the process that did it gets 'disconnect', every process 'close'. */
  destroy(clientId: string, by: SimProcess | undefined, reason: 'timeout' | 'disconnect'): void {
    const client = this.clients.get(clientId);
    if (!client) return;
    this.clients.delete(clientId);
    client.expiry?.cancel();
    // The Redis engine reports why and the last ping; Faye's memory engine reports nothing.
    const info = this.world.backend.cluster ? { reason, lastSeen: client.lastPing } : undefined;
    by?.disconnected(clientId, info);
    for (const process of this.world.processes) if (process.alive && process !== by) process.closed(clientId);
    this.world.destroyed(clientId);
  }

  /** One GC sweep of the Redis engine: clients silent for 2 x timeout are destroyed as timed out. */
  sweep(): void {
    const cutoff = this.world.clock.now() - 2 * SETTINGS.timeoutMs;
    const sweeper = this.world.anyProcess();
    for (const [clientId, client] of [...this.clients]) if (client.lastPing <= cutoff) this.destroy(clientId, sweeper, 'timeout');
  }

  get size(): number {
    return this.clients.size;
  }
}

interface Page {
  id: number;
  uid: number;
  room: string;
  timeChannel: string;
  proc: number;
  engaged: boolean;
  reports: number;
  clientId: string;
  state: 'open' | 'lost' | 'gone';
  stay?: Stay;
  lostAt?: number;
  poll?: ClockTimer;
}

let runs = 0;

export class World {
  readonly clock = new ManualClock();
  readonly truth = new Truth();
  readonly observed: Observed = { diffs: [], lists: [], errors: [] };
  readonly engine: SimEngine;
  readonly processes: SimProcess[] = [];
  readonly runId = (++runs).toString(36);
  readonly startedAt = this.clock.now();
  private readonly pages = new Map<number, Page>();
  private readonly byClientId = new Map<string, Page>();
  private readonly timers: ClockTimer[] = [];
  private messages = 0;
  /** Every room and time channel a message named: the checks look at all of them, not only where pages really were. */
  private readonly named = { rooms: new Set<string>(), timeChannels: new Set<string>() };

  constructor(readonly backend: WorldBackend, processCount: number) {
    this.engine = new SimEngine(this);
    for (let slot = 0; slot < processCount; slot++) this.processes.push(new SimProcess(slot, this));
    if (backend.cluster) this.every(SETTINGS.gcMs, () => this.engine.sweep());
    this.every(SETTINGS.reconcileIntervalMs, () => void this.anyProcess()?.reconcile().catch((e) => this.observed.errors.push(`reconcile failed: ${(e as Error).message}`)));
  }

  logger(name: string): Logger {
    const errors = this.observed.errors;
    return {
      debug() {},
      info() {},
      warn() {},
      error(fields, message) {
        const err = (fields as { err?: Error }).err;
        errors.push(`${name}: ${message}${err ? ` (${err.message})` : ''}`);
      },
    };
  }

  private every(ms: number, task: () => void): void {
    const tick = () => {
      task();
      this.timers.push(this.clock.after(ms, tick));
    };
    this.timers.push(this.clock.after(ms, tick));
  }

  /** A moment of the run as the traces show it: seconds since its start. */
  t(ms: number): string {
    return `${((ms - this.startedAt) / 1000).toFixed(1)}s`;
  }

  anyProcess(): SimProcess | undefined {
    return this.processes.find((p) => p.alive);
  }

  private processOf(page: Page): SimProcess | undefined {
    const n = this.processes.length;
    for (let i = 0; i < n; i++) {
      const process = this.processes[(page.proc + i) % n];
      if (process.alive) return process;
    }
    return undefined;
  }

  /** Lets every process finish what the last step or timer started. */
  async settle(): Promise<void> {
    for (;;) {
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      const busy = this.messages > 0 || this.processes.some((p) => p.busy);
      await Promise.all(this.processes.map((p) => p.settled()));
      // A write waiting to be retried: the rest happens as the clock moves on.
      if (this.processes.some((p) => p.waitsForClock)) return;
      if (!busy && this.messages === 0 && !this.processes.some((p) => p.busy)) return;
    }
  }

  async advanceTo(at: number): Promise<void> {
    if (at > this.clock.now()) await this.clock.advance(at - this.clock.now(), () => this.settle());
  }

  // -- pages ---------------------------------------------------------------

  private auth(page: Page, where: { room: string; timeChannel: string } = page): Record<string, unknown> {
    this.named.rooms.add(where.room);
    this.named.timeChannels.add(where.timeChannel);
    return { room_channel: where.room, time_channel: where.timeChannel, current_user: { uid: page.uid, uname: `user${page.uid}` } };
  }

  private send(page: Page, message: Record<string, unknown>): Promise<BayeuxMessage | undefined> {
    const process = this.processOf(page);
    if (!process) return Promise.resolve(undefined);
    this.messages++;
    return process.receive({ clientId: page.clientId, ...message }).finally(() => this.messages--);
  }

  /**
   * A /meta/connect: a client the engine no longer knows handshakes again first
   * (Faye's "401 unknown client"). `previous` is where a moving page was: if
   * the edge refuses the new place, the page stays there (the move did not
   * happen); a page refused on opening never was online.
   */
  private connect(page: Page, previous?: { room: string; timeChannel: string; stay?: Stay }): void {
    page.poll?.cancel();
    if (!this.engine.exists(page.clientId)) this.newClient(page);
    const stay = page.stay;
    const clientId = page.clientId;
    void this.send(page, { channel: '/meta/connect', connectionType: 'long-polling', auth: this.auth(page) }).then((answer) => {
      // Faye handles a connect only when the extensions let it through: then the engine pings the client.
      if (answer && !answer.error) this.engine.ping(clientId);
      if (answer?.error && page.stay === stay && stay && stay.start === this.clock.now()) {
        this.truth.refuse(stay);
        page.stay = undefined;
        if (previous) {
          page.room = previous.room;
          page.timeChannel = previous.timeChannel;
          page.stay = this.truth.resume(previous.stay);
          // The refused connect was answered at once: the page connects again
          // with the auth it had (a refused message is no sighting, so waiting
          // a whole poll would leave it unseen for longer than one).
          if (page.state === 'open') this.connect(page);
        }
      }
    });
    // The server holds the connect for `timeout`; the page reconnects at once when it is answered.
    page.poll = this.clock.after(SETTINGS.timeoutMs, () => {
      if (page.state === 'open') this.connect(page);
    });
  }

  private newClient(page: Page): void {
    if (page.clientId) this.byClientId.delete(page.clientId);
    page.clientId = this.engine.handshake();
    this.byClientId.set(page.clientId, page);
  }

  private report(page: Page, where: { room: string; timeChannel: string } = page): void {
    page.reports += 1;
    void this.send(page, { channel: ENGAGEMENT_CHANNEL, data: { engaged: page.engaged, seq: page.reports }, auth: this.auth(page, where) });
  }

  /** before_leave's nudge: a live page answers its held connect at once. */
  nudge(clientId: string): void {
    const page = this.byClientId.get(clientId);
    if (page && page.state === 'open' && page.clientId === clientId) this.connect(page);
  }

  /** The engine destroyed a client: a page that lost its network was gone since then. */
  destroyed(clientId: string): void {
    const page = this.byClientId.get(clientId);
    if (page && page.clientId === clientId && page.lostAt !== undefined) {
      this.truth.end(page.stay, page.lostAt, 'lost');
      page.stay = undefined;
    }
  }

  private open(page: Page): void {
    page.state = 'open';
    page.lostAt = undefined;
    this.newClient(page);
    page.stay = this.truth.begin(page.id, page.uid, page.room, page.timeChannel, this.clock.now());
    this.connect(page);
    if (page.engaged) this.report(page);
  }

  private leave(page: Page, ending: 'close' | 'disconnect'): void {
    page.poll?.cancel();
    if (page.state === 'lost') {
      this.truth.end(page.stay, page.lostAt!, 'lost');
    } else {
      this.truth.end(page.stay, this.clock.now(), ending);
      if (ending === 'close') void this.send(page, { channel: BEFORE_LEAVE_CHANNEL, data: {}, auth: this.auth(page) });
      else {
        void this.send(page, { channel: '/meta/disconnect' });
        this.engine.destroy(page.clientId, this.processOf(page), 'disconnect');
      }
    }
    page.stay = undefined;
    page.state = 'gone';
  }

  /** Applies one step of the scenario; steps that do not apply are skipped (returns false). */
  apply(step: Step): boolean {
    const now = this.clock.now();
    if (step.kind === 'open') {
      if (this.pages.has(step.page)) return false;
      const page: Page = { id: step.page, uid: step.uid, room: step.room, timeChannel: step.timeChannel, proc: step.proc, engaged: step.engaged, reports: 0, clientId: '', state: 'gone' };
      this.pages.set(page.id, page);
      this.open(page);
      return true;
    }
    if (step.kind === 'crash') {
      const process = this.processes[step.proc];
      if (!process?.alive || this.processes.filter((p) => p.alive).length < 2) return false;
      void process.crash();
      this.timers.push(this.clock.after(1000, () => {
        const fresh = new SimProcess(step.proc, this);
        this.processes[step.proc] = fresh;
        void fresh.reconcile().catch((e) => this.observed.errors.push(`startup reconcile failed: ${(e as Error).message}`));
      }));
      return true;
    }
    if (step.kind === 'quiet') return true;
    const page = this.pages.get(step.page);
    if (!page) return false;
    switch (step.kind) {
      case 'close':
      case 'disconnect':
        if (page.state === 'gone') return false;
        this.leave(page, step.kind);
        return true;
      case 'cancelClose':
        if (page.state !== 'open') return false;
        void this.send(page, { channel: BEFORE_LEAVE_CHANNEL, data: {}, auth: this.auth(page) });
        return true;
      case 'networkLost':
        if (page.state !== 'open') return false;
        page.poll?.cancel();
        page.state = 'lost';
        page.lostAt = now;
        return true;
      case 'networkBack': {
        if (page.state !== 'lost') return false;
        page.state = 'open';
        if (!this.engine.exists(page.clientId)) {
          // The client is gone (or about to be): the page was away since the loss and comes back as a new client.
          this.truth.end(page.stay, page.lostAt!, 'lost');
          this.newClient(page);
          page.stay = this.truth.begin(page.id, page.uid, page.room, page.timeChannel, now);
        }
        page.lostAt = undefined;
        this.connect(page);
        if (page.engaged) this.report(page);
        return true;
      }
      case 'reload':
        if (page.state !== 'open') return false;
        this.leave(page, 'disconnect');
        this.timers.push(this.clock.after(step.gapMs, () => {
          if (page.state === 'gone') this.open(page);
        }));
        return true;
      case 'rehandshake':
        if (page.state !== 'open') return false;
        // The same page throughout: the truth has no gap, but the server did lose sight of it.
        this.truth.addBreak(page.uid, page.timeChannel);
        this.engine.destroy(page.clientId, this.processOf(page), 'timeout');
        this.connect(page);
        if (page.engaged) this.report(page);
        return true;
      case 'move':
      case 'overlap': {
        if (page.state !== 'open') return false;
        const target = step.kind === 'move' ? step : step.second;
        const previous = { room: page.room, timeChannel: page.timeChannel, stay: page.stay };
        this.truth.end(page.stay, now, 'moved');
        if (step.kind === 'overlap') {
          // Both in flight at once, as two requests of one page can be.
          this.report(page, step.first);
          this.report(page, step.second);
        }
        page.room = target.room;
        page.timeChannel = target.timeChannel;
        page.stay = this.truth.begin(page.id, page.uid, page.room, page.timeChannel, now);
        this.connect(page, previous);
        return true;
      }
      case 'engage':
        if (page.state !== 'open') return false;
        page.engaged = step.engaged;
        this.report(page);
        return true;
      case 'hop':
        if (page.state === 'gone') return false;
        page.proc = step.proc;
        return true;
    }
  }

  rooms(): string[] {
    return [...this.named.rooms].sort();
  }

  timeChannels(): string[] {
    return [...this.named.timeChannels].sort();
  }

  livePages(): number {
    return [...this.pages.values()].filter((p) => p.state !== 'gone').length;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) timer.cancel();
    for (const page of this.pages.values()) page.poll?.cancel();
    await this.settle();
    for (const process of this.processes) if (process.alive) await process.crash();
  }
}
