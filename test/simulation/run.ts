// Runs a scenario against a backend and checks the invariants at every quiet
// point; on a failure, shrinks the scenario to a minimal trace that still fails
// the same invariant.
import { checkQuietPoint, type Violation } from './invariants';
import { describeStep, generateScenario, type ScenarioShape, type TimedStep } from './scenario';
import type { SimBackend } from './backends';
import { SETTINGS, World } from './world';

export interface RunResult {
  violations: Violation[];
  /** Simulated ms the run covered. */
  simulatedMs: number;
  steps: number;
  /** Steps that applied (the others named pages that were not in a state for them). */
  applied: number;
}

export function shapeFor(backend: SimBackend, size: 'small' | 'large' = 'small'): ScenarioShape {
  return {
    processes: backend.processes,
    users: size === 'small' ? 5 : 12,
    bursts: size === 'small' ? 2 : 4,
    burstMs: size === 'small' ? 60_000 : 120_000,
    // The engine's GC, its timeout twice over, the grace and before_leave, and some margin.
    quietMs: SETTINGS.gcMs + 2 * SETTINGS.timeoutMs + SETTINGS.leaveGraceMs + SETTINGS.beforeLeaveDelayMs + 10_000,
    maxClientIdsPerUser: SETTINGS.maxClientIdsPerUser,
  };
}

/** One run; stops at the first quiet point with violations. */
export async function runSteps(backend: SimBackend, steps: TimedStep[]): Promise<RunResult> {
  const fresh = await backend.fresh();
  const world = new World(fresh, backend.processes);
  const start = world.startedAt;
  let violations: Violation[] = [];
  let applied = 0;
  try {
    await world.settle();
    const lastQuiet = steps.map((s) => s.step.kind).lastIndexOf('quiet');
    for (const [index, { at, step }] of steps.entries()) {
      await world.advanceTo(start + at);
      if (world.apply(step)) applied += 1;
      await world.settle();
      if (step.kind === 'quiet') {
        violations = await checkQuietPoint(world, { final: index === lastQuiet && world.livePages() === 0 });
        if (violations.length) break;
      }
    }
    return { violations, simulatedMs: world.clock.now() - start, steps: steps.length, applied };
  } finally {
    await world.close();
    await fresh.finish();
  }
}

/** The invariants a result breaks, as one comparable key. */
const failureKey = (violations: Violation[]) => [...new Set(violations.map((v) => v.invariant))].sort().join(', ');

/**
 * Drops chunks of steps, then single steps, while the run still breaks the
 * same invariant (delta debugging, greedy). Stops when `budgetMs` of real time
 * is spent; what it has by then is still a failing trace.
 */
export async function shrink(backend: SimBackend, steps: TimedStep[], key: string, budgetMs: number): Promise<TimedStep[]> {
  const deadline = Date.now() + budgetMs;
  let current = steps;
  const fails = async (candidate: TimedStep[]) => {
    if (!candidate.some((s) => s.step.kind === 'quiet')) return false;
    const result = await runSteps(backend, candidate);
    return result.violations.length > 0 && failureKey(result.violations).includes(key);
  };
  for (let chunk = Math.max(1, Math.floor(current.length / 2)); chunk >= 1 && Date.now() < deadline; chunk = Math.floor(chunk / 2)) {
    for (let start = 0; start < current.length && Date.now() < deadline; ) {
      const candidate = [...current.slice(0, start), ...current.slice(start + chunk)];
      if (await fails(candidate)) current = candidate;
      else start += chunk;
    }
  }
  // Later quiet points add nothing once an earlier one fails.
  return current;
}

export interface SeedOutcome {
  seed: number;
  result: RunResult;
  /** A minimal failing trace when it failed. */
  trace?: string;
}

/**
 * `invariant`: the one to shrink for when the run breaks several (default: the
 * first one broken).
 */
export async function simulateSeed(
  backend: SimBackend, seed: number, options: { size?: 'small' | 'large'; shrinkBudgetMs?: number; invariant?: string } = {},
): Promise<SeedOutcome> {
  const steps = generateScenario(seed, shapeFor(backend, options.size));
  const result = await runSteps(backend, steps);
  if (result.violations.length === 0) return { seed, result };
  const broken = result.violations.map((v) => v.invariant);
  const key = options.invariant && broken.includes(options.invariant) ? options.invariant : broken[0];
  const reproduce = `npm run soak -- --backend ${backend.name} --seed ${seed}${options.size === 'large' ? ' --size large' : ''} --invariant '${key}'`;
  const head = [`seed ${seed} on ${backend.name} breaks "${key}"`, ...result.violations.slice(0, 12).map((v) => `  ${v.invariant}: ${v.detail}`)];
  const budget = options.shrinkBudgetMs ?? 30_000;
  if (budget <= 0) return { seed, result, trace: [...head, `not shrunk; reproduce and shrink: ${reproduce}`].join('\n') };
  const minimal = await shrink(backend, steps, key, budget);
  const again = await runSteps(backend, minimal);
  const lines = [
    ...head,
    `minimal trace (${minimal.length} of ${steps.length} steps; reproduce: ${reproduce}):`,
    ...minimal.map((s) => `  ${describeStep(s)}`),
    'on the minimal trace:',
    ...again.violations.slice(0, 12).map((v) => `  ${v.invariant}: ${v.detail}`),
  ];
  return { seed, result, trace: lines.join('\n') };
}
