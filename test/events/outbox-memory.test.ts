import { MemoryOutbox } from '../../lib/events/outbox';
import { MemoryStore } from '../../lib/stores/memory-store';
import { GRACE_MS, outboxContract } from './outbox-contract';

outboxContract('memory', async (limit) => {
  const outbox = new MemoryOutbox(limit || 1);
  return { store: new MemoryStore(32, GRACE_MS, limit > 0 ? outbox : undefined), outbox, cleanup: async () => undefined };
});
