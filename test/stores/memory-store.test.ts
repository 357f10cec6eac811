import { MemoryStore } from '../../lib/stores/memory-store';
import { GRACE_MS, LIMIT, storeContract } from './contract';

storeContract('memory', async () => ({ store: new MemoryStore(LIMIT, GRACE_MS), cleanup: async () => undefined }));
