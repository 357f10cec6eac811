// Runs tasks one after another per key and concurrently across keys. Presence
// uses it per user, so that the store's transitions for one user and the SQL
// writes that follow them happen in the order the transitions were decided.
export class KeyedQueue<K> {
  private readonly tails = new Map<K, Promise<unknown>>();
  private readonly running = new Set<Promise<unknown>>();

  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    this.running.add(tail);
    void tail.then(() => {
      this.running.delete(tail);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once every task queued so far, and every task they queued, has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
