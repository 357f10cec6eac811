-- Takes every message queued for some clients and empties their queues, as one
-- command: the clients this process was notified about in one tick share it
-- (a message to a room of k members used to cost k of these, one per
-- recipient; the MULTI LRANGE DEL EXEC before that was four commands each).
--
-- KEYS     <ns>/clients/<clientId>/messages for each client: lists of queued JSON messages
--
-- Returns one list per key, in the order of KEYS: its messages, oldest first
-- (an empty list when there were none).

local taken = {}
for i, queue in ipairs(KEYS) do
  local messages = redis.call('LRANGE', queue, 0, -1)
  if #messages > 0 then
    redis.call('DEL', queue)
  end
  taken[i] = messages
end
return taken
