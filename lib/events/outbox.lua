-- Prepended to arrive.lua, depart.lua and confirm-leave.lua (see lib/events/redis-outbox.ts):
-- appends a presence event to the outbox in the same script as the change.
--
-- outboxKey   /<ns>/events_outbox
-- droppedKey  /<ns>/events_outbox_dropped
-- limit       most entries the outbox holds; 0: events are off (nothing is appended)
local function appendEvent(outboxKey, droppedKey, limit, kind, uid, channel, at, seq, reason, clientId)
  if limit <= 0 then return end
  if redis.call('LLEN', outboxKey) >= limit then
    redis.call('INCR', droppedKey)
    return
  end
  local event = { k = kind, c = channel, t = at }
  if uid then event.u = tonumber(uid) end
  if seq and seq > 0 then event.s = seq end
  if reason and reason ~= '' then event.r = reason end
  if clientId and clientId ~= '' then event.i = clientId end
  redis.call('RPUSH', outboxKey, cjson.encode(event))
end

-- Whether a room has nobody in it: no user with a clientId, none whose leave is pending.
local function roomEmpty(roomKey, leavingKey)
  return redis.call('HLEN', roomKey) == 0 and redis.call('HLEN', leavingKey) == 0
end
