// Faye engine on ioredis with faye-redis' key layout (cluster mode).
export { RedisEngine } from './redis-engine';
export type { RedisEngineOptions, DisconnectInfo, DisconnectReason, FayeEngineServer, EngineMessage } from './redis-engine';
