// Group commit: writes asked for while one batch is being written wait for the
// next batch, which takes them all at once, and batches start at most once per
// window. Alone, a write goes out at the end of the current tick (as it did
// without batching); in a storm, each batch takes everything that arrived
// since the previous one started (at least a window's worth), so the
// statements per write fall as the load rises (a join storm of 1,000 users
// writes each room's list a few dozen times instead of 1,000 times).
//
// A batch settles each of its entries itself (one row may fail while the
// others succeed); entries it left unsettled get the batch's error. A writer
// whose batches cost more as its row grows (a crowded room's list) answers
// with a longer window for the batch after it.

export interface Pending<I, R> {
  readonly item: I;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class GroupCommit<I, R> {
  private queued: Array<Pending<I, R>> = [];
  private busy = false;
  /** When the last batch started (ms, performance clock). */
  private lastStart = -Infinity;
  private readonly write: (batch: Array<Pending<I, R>>) => Promise<number | void>;
  private readonly maxBatch: number;
  private readonly windowMs: number;
  /** The window before the next batch: the configured one, or what the last batch asked for. */
  private window: number;
  /** Called when nothing is queued or in flight (keyed users drop the instance). */
  private readonly onIdle?: () => void;

  /** `write` may resolve to the window (ms) to keep before the next batch, if longer than the configured one. */
  constructor(write: (batch: Array<Pending<I, R>>) => Promise<number | void>, options: { maxBatch: number; windowMs: number; onIdle?: () => void }) {
    this.write = write;
    this.maxBatch = options.maxBatch;
    this.windowMs = options.windowMs;
    this.window = options.windowMs;
    this.onIdle = options.onIdle;
  }

  get idle(): boolean {
    return !this.busy;
  }

  /** The current window, ms (longer than the configured one after a batch asked for more). */
  get windowNow(): number {
    return this.window;
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      if (!this.busy) {
        this.busy = true;
        void this.drain();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      // The rest of this tick joins the batch (arrivals answered by one Redis
      // reply arrive together), and so does the rest of the window.
      const wait = this.lastStart + this.window - performance.now();
      await new Promise((resolve) => (wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve)));
      this.lastStart = performance.now();
      const batch = this.queued.splice(0, this.maxBatch);
      const settled: Array<Pending<I, R>> = batch.map((entry) => new SettleOnce(entry));
      try {
        const asked = await this.write(settled);
        this.window = typeof asked === 'number' && asked > this.windowMs ? asked : this.windowMs;
      } catch (error) {
        for (const entry of settled) entry.reject(error);
      }
    }
    this.busy = false;
    this.onIdle?.();
  }
}

/**
 * An entry whose first settlement wins, so that a batch's error reaches only
 * the entries it did not settle. A class rather than two closures: a storm
 * keeps thousands of these alive while their batches are written.
 */
class SettleOnce<I, R> implements Pending<I, R> {
  private done = false;

  constructor(private readonly entry: Pending<I, R>) {}

  get item(): I {
    return this.entry.item;
  }

  resolve(result: R): void {
    if (!this.done) this.entry.resolve(result);
    this.done = true;
  }

  reject(error: unknown): void {
    if (!this.done) this.entry.reject(error);
    this.done = true;
  }
}

/** One GroupCommit per key (a room's list), dropped once idle for a window (it remembers when its last batch started). */
export class KeyedGroupCommit<K, I, R> {
  private readonly groups = new Map<K, GroupCommit<I, R>>();
  private readonly write: (key: K, batch: Array<Pending<I, R>>) => Promise<number | void>;
  private readonly options: { maxBatch: number; windowMs: number };

  constructor(write: (key: K, batch: Array<Pending<I, R>>) => Promise<number | void>, options: { maxBatch: number; windowMs: number }) {
    this.write = write;
    this.options = options;
  }

  add(key: K, item: I): Promise<R> {
    let group = this.groups.get(key);
    if (!group) {
      const created: GroupCommit<I, R> = new GroupCommit((batch) => this.write(key, batch), {
        ...this.options,
        onIdle: () => {
          setTimeout(() => {
            if (created.idle && this.groups.get(key) === created) this.groups.delete(key);
          }, created.windowNow).unref();
        },
      });
      group = created;
      this.groups.set(key, group);
    }
    return group.add(item);
  }
}
