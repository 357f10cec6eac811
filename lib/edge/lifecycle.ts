// A server's life: starting (the checks that must pass before it serves),
// ready, closing (each step in order, once), closed. The work it started and
// must finish before closing (departures, arrivals, reconciliation passes) is
// tracked here too.
import type { Logger } from '../log';

export interface LifecycleOptions {
  logger: Logger;
  /** What must succeed before the server serves (migrations, Redis, the engine). */
  start(): Promise<void>;
  /** Runs once start() succeeded. */
  onReady(): void;
  /** The first step of close(): stops what would start more work (timers, checks); the startup may still be running. */
  stopping(): Promise<void> | void;
  /** The steps of close() once the startup settled, in order. */
  stop: Array<() => Promise<void> | void>;
}

export class Lifecycle {
  readonly ready: Promise<void>;
  private isReady = false;
  private closing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: LifecycleOptions) {
    this.ready = (async () => {
      await options.start();
      this.isReady = true;
      options.onReady();
    })();
    this.ready.catch((error) => options.logger.error({ err: error }, `faye-online is not ready: ${(error as Error).message}`));
  }

  /** Ready and not closing: messages are served. */
  get open(): boolean {
    return this.isReady && !this.stopped;
  }

  /** Runs the stop steps once, after the startup settled; later calls wait for the same close. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.stopped = true;
    this.closing = (async () => {
      await this.options.stopping();
      await this.ready.catch(() => undefined);
      for (const step of this.options.stop) await step();
    })();
    return this.closing;
  }
}

/** Work started and not finished yet; close() waits for all of it. */
export class InFlight {
  private readonly work = new Set<Promise<unknown>>();

  constructor(private readonly observe?: (work: Promise<unknown>) => void) {}

  track(work: Promise<unknown>): void {
    this.work.add(work);
    this.observe?.(work);
    void work.finally(() => this.work.delete(work));
  }

  /** Resolves when every piece of work tracked so far (and what it started) has finished. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }
}
