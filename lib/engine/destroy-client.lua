-- Destroys one Faye client atomically, so that of two processes destroying the
-- same client (GC here and an explicit /meta/disconnect there) exactly one sees
-- it existed and reports its disconnect.
--
-- KEYS[1]  <ns>/clients                      sorted set clientId -> last ping (ms)
-- KEYS[2]  <ns>/clients/<clientId>/channels  set of the client's channels
-- KEYS[3]  <ns>/clients/<clientId>/messages  list of queued JSON messages
-- ARGV[1]  clientId
-- ARGV[2]  <ns>/channels   prefix of channel subscriber sets (a channel name follows, starting with '/')
-- ARGV[3]  <ns>/notifications/close   Pub/Sub channel told about the destroyed client
--
-- Returns { lastSeen, channels } where lastSeen is the client's score (false if the
-- client was not in KEYS[1]) and channels lists the subscriptions removed.
-- Subscriber-set keys are derived from the client's channel set, as faye-redis
-- lays them out; this script therefore needs a single (non-cluster) Redis.

local clientId = ARGV[1]
local score = redis.call('ZSCORE', KEYS[1], clientId)
local channels = redis.call('SMEMBERS', KEYS[2])

for _, channel in ipairs(channels) do
  redis.call('SREM', ARGV[2] .. channel, clientId)
end
redis.call('DEL', KEYS[2], KEYS[3])

if not score then
  return { false, channels }
end

redis.call('ZREM', KEYS[1], clientId)
redis.call('PUBLISH', ARGV[3], clientId)
return { score, channels }
