export type { PresenceStore, Arrival, ArrivalResult, DepartureResult, PresenceTarget } from './store';
export { MemoryStore } from './memory-store';
export { RedisStore } from './redis-store';
export { openRedis, type RedisOption } from './redis-connection';
