-- Takes every message queued for a client and empties its queue, as one
-- command (the MULTI LRANGE DEL EXEC it replaces was four for Redis to run on
-- every /meta/connect, most of them for an empty queue).
--
-- KEYS[1]  <ns>/clients/<clientId>/messages  list of queued JSON messages
--
-- Returns the messages, oldest first (an empty list if there were none).

local messages = redis.call('LRANGE', KEYS[1], 0, -1)
if #messages > 0 then
  redis.call('DEL', KEYS[1])
end
return messages
