// Retry delays: exponential from minMs, capped at maxMs, with "equal jitter"
// (half fixed, half random), so that many senders restarted together (or one
// sender and a receiver coming back) do not retry in lockstep, while a delay
// never drops below half its step.

export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, attempt - 1), 40));
  return Math.round(step / 2 + random() * (step / 2));
}
