// Faye's own memory engine passes the engine contract: the reference the Redis engine is held to.
import { engineContract } from './contract';

engineContract({
  distributed: false,
  async setup() {
    return { engineOptions: {}, async teardown() {} };
  },
});
