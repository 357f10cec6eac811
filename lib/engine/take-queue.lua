-- Takes every message queued for some clients and empties their queues, as one
-- command: the clients this process was notified about in one tick share it
-- (a message to a room of k members used to cost k of these, one per
-- recipient; the MULTI LRANGE DEL EXEC before that was four commands each).
--
-- KEYS     <ns>/clients/<clientId>/messages for each client: lists of queued JSON messages
--
-- Returns two lists. The first holds each distinct message once: a message to
-- a room was queued for each of its members, and the members notified in one
-- tick are taken together, so sending it once per member would send the same
-- text k times (a room's whole user list is kilobytes). The second holds one
-- list per key, in the order of KEYS: the positions (from 1) in the first list
-- of its messages, oldest first (an empty list when there were none).

local texts = {}
local positionOf = {}
local taken = {}
for i, queue in ipairs(KEYS) do
  local messages = redis.call('LRANGE', queue, 0, -1)
  local positions = {}
  if #messages > 0 then
    redis.call('DEL', queue)
    for j, text in ipairs(messages) do
      local position = positionOf[text]
      if position == nil then
        position = #texts + 1
        texts[position] = text
        positionOf[text] = position
      end
      positions[j] = position
    end
  end
  taken[i] = positions
end
return { texts, taken }
