// Live updates for the pages: Server-Sent Events fed by the handle's join,
// leave and engagement events.
//
// Why not a Faye subscription to <room>/presence: the page would be a Bayeux
// client like any other, subject to the app's `authorizeSubscription` rules and
// to signed auth (it has no room, no user), and it would count as nobody's tab
// while looking like one. SSE goes through the same `authorize` hook as every
// other dashboard request and is plain HTTP.
//
// The handle reports what this process decided. In a cluster the other
// processes' joins and leaves do not reach it, so the pages also re-read every
// REFRESH_SECONDS (a value they get from the config endpoint).
import type { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import type { Clock, ClockTimer } from '../core/clock';
import type { FayeOnlineEvents } from '../edge/attach';

export const REFRESH_SECONDS = 10;
/** A comment line keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export interface LiveChange {
  /** join/leave: the user's first/last tab; arrive/depart: any tab. */
  kind: 'join' | 'leave' | 'arrive' | 'depart' | 'engaged' | 'disengaged';
  /** The room (join, leave, arrive, depart) or the time channel (engagement). */
  channel: string;
  uid: number;
}

export class LiveStreams {
  private readonly streams = new Set<Response>();
  private keepalive: ClockTimer | undefined;
  private readonly detach: () => void;

  constructor(events: EventEmitter<FayeOnlineEvents>, private readonly clock: Clock) {
    const listeners = {
      join: (e: { room: string; uid: number }) => this.send({ kind: 'join', channel: e.room, uid: e.uid }),
      leave: (e: { room: string; uid: number }) => this.send({ kind: 'leave', channel: e.room, uid: e.uid }),
      arrive: (e: { room: string; uid: number }) => this.send({ kind: 'arrive', channel: e.room, uid: e.uid }),
      depart: (e: { room: string; uid: number }) => this.send({ kind: 'depart', channel: e.room, uid: e.uid }),
      engagement: (e: { timeChannel: string; uid: number; engaged: boolean }) => this.send({ kind: e.engaged ? 'engaged' : 'disengaged', channel: e.timeChannel, uid: e.uid }),
    };
    for (const [name, listener] of Object.entries(listeners)) events.on(name as keyof FayeOnlineEvents, listener as never);
    this.detach = () => {
      for (const [name, listener] of Object.entries(listeners)) events.off(name as keyof FayeOnlineEvents, listener as never);
    };
  }

  get size(): number {
    return this.streams.size;
  }

  open(req: Request, res: Response): void {
    res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    res.write(`retry: 2000\n\n`);
    this.streams.add(res);
    req.on('close', () => this.streams.delete(res));
    if (!this.keepalive) this.scheduleKeepalive();
  }

  close(): void {
    this.detach();
    this.keepalive?.cancel();
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  private send(change: LiveChange): void {
    const frame = `event: presence\ndata: ${JSON.stringify(change)}\n\n`;
    for (const res of this.streams) res.write(frame);
  }

  private scheduleKeepalive(): void {
    this.keepalive = this.clock.after(KEEPALIVE_MS, () => {
      this.keepalive = undefined;
      if (!this.streams.size) return;
      for (const res of this.streams) res.write(': keepalive\n\n');
      this.scheduleKeepalive();
    });
  }
}
