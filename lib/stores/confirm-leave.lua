-- The grace period of a user's leave is over: the leave takes effect unless the
-- user came back (an arrival removed the pending mark) or the mark is newer
-- (a later leave, which confirms itself).
--
-- KEYS[1] room hash        /<ns>/uid_to_clientIds<room>
-- KEYS[2] room leaving     /<ns>/leaving<room>
-- KEYS[3] time hash        /<ns>/uid_to_clientIds<time_channel>
-- KEYS[4] time leaving     /<ns>/leaving<time_channel>
-- KEYS[5] room sequence    /<ns>/presence_seq<room>
-- KEYS[6] events outbox    /<ns>/events_outbox (see lib/events/outbox.lua)
-- KEYS[7] events dropped   /<ns>/events_outbox_dropped
-- ARGV[1] uid (decimal)
-- ARGV[2] the mark set by depart.lua ("<last seen ms>,<marked ms>")
-- ARGV[3] most entries of the events outbox; 0: events are off
-- ARGV[4] the room's name, ARGV[5] why the user left, ARGV[6] the clientId whose departure set the mark ('' if unknown)
--
-- Returns { leftRoom, stoppedTimer, seq }

local uid, at = ARGV[1], ARGV[2]

local function confirm(key, leavingKey)
  if redis.call('HGET', leavingKey, uid) ~= at then return 0 end
  redis.call('HDEL', leavingKey, uid)
  if redis.call('HEXISTS', key, uid) == 1 then return 0 end
  return 1
end

local leftRoom = confirm(KEYS[1], KEYS[2])
local stoppedTimer
if KEYS[3] == KEYS[1] then
  stoppedTimer = leftRoom
else
  stoppedTimer = confirm(KEYS[3], KEYS[4])
end

local seq = 0
if leftRoom == 1 then
  seq = redis.call('INCR', KEYS[5])
  local limit = tonumber(ARGV[3]) or 0
  local lastSeen = tonumber(string.match(at, '^(%d+)'))
  appendEvent(KEYS[6], KEYS[7], limit, 'leave', uid, ARGV[4], lastSeen, seq, ARGV[5], ARGV[6])
  if limit > 0 and roomEmpty(KEYS[1], KEYS[2]) then appendEvent(KEYS[6], KEYS[7], limit, 'vacated', nil, ARGV[4], lastSeen, seq, ARGV[5], ARGV[6]) end
end
return { leftRoom, stoppedTimer, seq }
