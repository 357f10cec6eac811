// Waiting in tests, in one place. Prefer `eventually` (wait for a condition)
// to `sleep` (wait a fixed time): under load a fixed wait races. `sleep` is for
// what cannot be observed, e.g. giving a message that must not come a chance to.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A pause between two attempts this much longer than asked means the whole process stood still. */
const STALL_MS = 2000;

/**
 * Runs `attempt` every `intervalMs` until it returns true; after `timeoutMs` throws its last failure.
 * Time the process stood still (a machine that stopped scheduling it) does
 * not count: nothing it waits for could have happened meanwhile. Each such
 * stall is printed, so a server that blocks its own event loop still shows.
 */
async function poll(attempt: () => Promise<boolean>, timeoutMs: number, intervalMs: number, lastFailure: () => unknown): Promise<void> {
  let deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await attempt()) return;
    if (Date.now() > deadline) {
      const failure = lastFailure();
      throw failure instanceof Error ? failure : new Error(String(failure));
    }
    const asleep = Date.now();
    await sleep(intervalMs);
    const late = Date.now() - asleep - intervalMs;
    if (late > STALL_MS) {
      deadline += late;
      console.warn(`# the test process stood still for ${late} ms while waiting; the wait is extended by as much`);
    }
  }
}

/**
 * Waits until `check` returns a truthy value and returns it. A falsy value or a
 * throw means "not yet"; after `timeoutMs` the last failure is thrown.
 */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, label = 'condition'): Promise<NonNullable<T>> {
  let value: T | undefined;
  let last: unknown;
  await poll(async () => {
    try {
      value = await check();
      if (value) return true;
      last = new Error(`${label} not met`);
    } catch (error) {
      last = error;
    }
    return false;
  }, timeoutMs, 50, () => last);
  return value as NonNullable<T>;
}

/**
 * Waits until `assertions` run without throwing (what they return does not
 * matter); after `timeoutMs` their last failure is thrown.
 */
export async function eventuallyPasses(assertions: () => void | Promise<void>, timeoutMs = 2000): Promise<void> {
  let last: unknown;
  await poll(async () => {
    try {
      await assertions();
      return true;
    } catch (error) {
      last = error;
      return false;
    }
  }, timeoutMs, 10, () => last);
}
