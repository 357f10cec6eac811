-- Queues one message for every live subscriber of any of the given channels
-- (the channel and its wildcard expansions) and notifies the cluster, in one
-- round trip. Each client gets the message once however many of its
-- subscriptions match (SUNION).
--
-- KEYS     <ns>/channels<channel> for each expanded channel name
-- ARGV[1]  <ns>/clients          sorted set clientId -> last ping (ms)
-- ARGV[2]  <ns>/clients/         prefix of per-client keys ('<clientId>/messages' follows)
-- ARGV[3]  JSON message
-- ARGV[4]  cutoff: a client whose last ping is not newer (ms) is gone
-- ARGV[5]  <ns>/notifications/messages   Pub/Sub channel; payload = clientId
--
-- Returns the number of clients the message was queued for. The queue of a
-- subscriber that no longer exists is dropped, as faye-redis does. Queue keys
-- are derived from the subscriber sets, so this needs a single (non-cluster) Redis.

local clients = redis.call('SUNION', unpack(KEYS))
local cutoff = tonumber(ARGV[4])
local queued = 0

for _, clientId in ipairs(clients) do
  local queue = ARGV[2] .. clientId .. '/messages'
  local score = redis.call('ZSCORE', ARGV[1], clientId)
  if score and tonumber(score) > cutoff then
    redis.call('RPUSH', queue, ARGV[3])
    redis.call('PUBLISH', ARGV[5], clientId)
    queued = queued + 1
  else
    redis.call('DEL', queue)
  end
end

return queued
