-- Subscribes a client to a channel, only while the client exists: a subscribe
-- racing with the client's destruction must not leave it in a subscriber set
-- that no GC would ever clean.
--
-- KEYS[1]  <ns>/clients                      sorted set clientId -> last ping (ms)
-- KEYS[2]  <ns>/clients/<clientId>/channels  set of the client's channels
-- KEYS[3]  <ns>/channels<channel>            set of the channel's subscribers
-- ARGV[1]  clientId
-- ARGV[2]  channel
--
-- Returns 1 if the subscription is new, 0 if it existed, -1 if the client does
-- not exist (a score of 0 marks a client the Ruby engine is destroying).

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= 0 then
  return -1
end

local added = redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return added
