// Seeded random lifecycles of pages, as a flat list of timed steps. The list is
// generated up front from the seed so that a failing run can be shrunk by
// dropping steps: every step that no longer applies (closing a page that never
// opened, a network returning that was never lost) is skipped by the runner.

/** What a page, the network or a process does at one moment. */
export type Step =
  /** A page opens (handshake, then its first /meta/connect with its auth). */
  | { kind: 'open'; page: number; uid: number; room: string; timeChannel: string; proc: number; engaged: boolean }
  /** The page is being closed: it publishes before_leave and goes silent. */
  | { kind: 'close'; page: number }
  /** The page publishes before_leave but the user cancels the close: it stays. */
  | { kind: 'cancelClose'; page: number }
  /** The page sends /meta/disconnect. */
  | { kind: 'disconnect'; page: number }
  /** The page's network goes away: it sends nothing more until `networkBack`. */
  | { kind: 'networkLost'; page: number }
  | { kind: 'networkBack'; page: number }
  /** The page reloads: /meta/disconnect, then the same page opens again `gapMs` later with a new clientId. */
  | { kind: 'reload'; page: number; gapMs: number }
  /** The server forgets the page's client (engine destroys it); the live page handshakes again at once. */
  | { kind: 'rehandshake'; page: number }
  /** The page navigates: its next /meta/connect names another room and time channel, same clientId. */
  | { kind: 'move'; page: number; room: string; timeChannel: string }
  /** Two engagement reports of the page in flight at once, each naming another room; the page stays in the second. */
  | { kind: 'overlap'; page: number; first: { room: string; timeChannel: string }; second: { room: string; timeChannel: string } }
  /** The page becomes visible/in use or stops being so. */
  | { kind: 'engage'; page: number; engaged: boolean }
  /** The load balancer sends the page's requests to another process. */
  | { kind: 'hop'; page: number; proc: number }
  /** A process dies (pending leaves and memory lost); a fresh one takes its place a second later. */
  | { kind: 'crash'; proc: number }
  /** Everything has had time to settle: the invariants are checked now. */
  | { kind: 'quiet' };

export interface TimedStep {
  /** ms since the start of the run */
  at: number;
  step: Step;
}

export interface ScenarioShape {
  /** Number of processes sharing one store and one database (1 for the embedded backend). */
  processes: number;
  users: number;
  /** Bursts of activity, each followed by a quiet point. */
  bursts: number;
  burstMs: number;
  /** Silence before a quiet point: long enough for the engine's GC, the grace and before_leave to finish. */
  quietMs: number;
  maxClientIdsPerUser: number;
}

/** mulberry32: small, fast, good enough to drive a simulation; the same seed gives the same run. */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Two rooms whose names differ only in case: MySQL's collation folds them,
// Redis and Faye do not.
const ROOMS = ['/rooms/a', '/rooms/b', '/rooms/abx', '/rooms/aBx'];
const TIME_CHANNELS = ['/lessons/1', '/lessons/2', '/lessons/3'];

export function generateScenario(seed: number, shape: ScenarioShape): TimedStep[] {
  const random = randomSource(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const chance = (p: number) => random() < p;
  const place = () => ({ room: pick(ROOMS), timeChannel: pick(TIME_CHANNELS) });
  // Overlapping reports test the race of two places, not refusals: both name rooms in the canonical (lower) case.
  const acceptedPlace = () => ({ room: pick(ROOMS.filter((room) => room === room.toLowerCase())), timeChannel: pick(TIME_CHANNELS) });

  const steps: TimedStep[] = [];
  let pages = 0;
  const open: number[] = [];
  const lost = new Set<number>();
  let t = 1000;
  for (let burst = 0; burst < shape.bursts; burst++) {
    const end = t + shape.burstMs;
    // Tabs past the limit: one user opens more tabs in one room than it may keep.
    if (chance(0.25)) {
      const uid = 1 + int(shape.users);
      const where = place();
      for (let i = 0; i <= shape.maxClientIdsPerUser; i++) {
        const page = pages++;
        // Every tab in the same room, each on a lesson of its own choice: the evicted tab's logout must name its own lesson.
        steps.push({ at: t + i * 50, step: { kind: 'open', page, uid, ...where, timeChannel: pick(TIME_CHANNELS), proc: int(shape.processes), engaged: chance(0.5) } });
        open.push(page);
      }
      t += (shape.maxClientIdsPerUser + 1) * 50;
    }
    while (t < end) {
      t += 200 + int(4000);
      const roll = random();
      const page = open.length ? pick(open) : -1;
      let step: Step;
      if (open.length < 3 || roll < 0.22) {
        const id = pages++;
        open.push(id);
        step = { kind: 'open', page: id, uid: 1 + int(shape.users), ...place(), proc: int(shape.processes), engaged: chance(0.7) };
      } else if (roll < 0.32) step = { kind: 'close', page };
      else if (roll < 0.37) step = { kind: 'cancelClose', page };
      else if (roll < 0.45) step = { kind: 'disconnect', page };
      else if (roll < 0.53) step = { kind: 'networkLost', page };
      else if (roll < 0.60 && lost.size) step = { kind: 'networkBack', page: pick([...lost]) };
      else if (roll < 0.66) step = { kind: 'reload', page, gapMs: pick([200, 1500, 4000, 7000]) };
      else if (roll < 0.70) step = { kind: 'rehandshake', page };
      else if (roll < 0.76) step = { kind: 'move', page, ...place() };
      else if (roll < 0.80) step = { kind: 'overlap', page, first: acceptedPlace(), second: acceptedPlace() };
      else if (roll < 0.90) step = { kind: 'engage', page, engaged: chance(0.5) };
      else if (roll < 0.97 && shape.processes > 1) step = { kind: 'hop', page, proc: int(shape.processes) };
      else if (shape.processes > 1 && chance(0.5)) step = { kind: 'crash', proc: int(shape.processes) };
      else step = { kind: 'engage', page, engaged: chance(0.5) };
      if (step.kind === 'networkLost') lost.add(step.page);
      if (step.kind === 'networkBack') {
        lost.delete(step.page);
        // A return some seconds later: sometimes inside the engine's timeout (same clientId), sometimes after it.
        t += pick([1500, 8000, 25000, 70000]);
      }
      if (step.kind === 'close' || step.kind === 'disconnect') open.splice(open.indexOf(page), 1);
      steps.push({ at: t, step });
    }
    t += shape.quietMs;
    steps.push({ at: t, step: { kind: 'quiet' } });
  }
  // Everyone leaves; then nothing may be left running.
  t += 1000;
  for (let page = 0; page < pages; page++) steps.push({ at: t + page * 10, step: { kind: page % 2 ? 'disconnect' : 'close', page } });
  steps.push({ at: t + pages * 10 + shape.quietMs, step: { kind: 'quiet' } });
  return steps.sort((a, b) => a.at - b.at);
}

export function describeStep({ at, step }: TimedStep): string {
  const { kind, ...rest } = step;
  const fields = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'object' ? `${(value as { room: string }).room}+${(value as { timeChannel: string }).timeChannel}` : String(value)}`)
    .join(' ');
  return `t=${(at / 1000).toFixed(1).padStart(7)}s ${kind}${fields ? ` ${fields}` : ''}`;
}
