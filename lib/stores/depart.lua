-- A clientId departs: remove it from the user's clientIds in the room and in the
-- time channel, and mark its logout as logged. One atomic step.
--
-- KEYS[1] room hash        /<ns>/uid_to_clientIds<room>
-- KEYS[2] time hash        /<ns>/uid_to_clientIds<time_channel>
-- KEYS[3] status key       /<ns>/clientId_status/<clientId>
-- KEYS[4] room sequence    /<ns>/presence_seq<room>
-- KEYS[5] room leaving     /<ns>/leaving<room>
-- KEYS[6] time leaving     /<ns>/leaving<time_channel>
-- ARGV[1] uid (decimal)
-- ARGV[2] clientId
-- ARGV[3] TTL of the status key, seconds
-- ARGV[4] '1' when the caller saw this clientId's login itself: a missing status
--         key (Redis lost its data) then still means "logged in"
-- ARGV[5] when the clientId was last seen, ms
-- ARGV[6] '1' to defer the user's leave (grace period): the last clientId's
--         departure then marks the leave as pending instead of leaving
--
-- Returns { removed, leftRoom, stoppedTimer, logLogout, seq, roomLeavePending, timerStopPending }
-- (seq: the room's sequence number after this leave, 0 when nobody left)

local uid, clientId, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local at, defer = ARGV[5], ARGV[6] == '1'

-- Returns removed, last (the user's last clientId left), pending (that leave is deferred)
local function remove(key, leavingKey)
  local raw = redis.call('HGET', key, uid)
  if not raw then return 0, 0, 0 end
  local ok, list = pcall(cjson.decode, raw)
  if not ok or type(list) ~= 'table' then list = {} end
  local kept, found = {}, false
  for _, v in ipairs(list) do
    if v == clientId then found = true else table.insert(kept, v) end
  end
  if not found then return 0, 0, 0 end
  if #kept == 0 then
    redis.call('HDEL', key, uid)
    if defer then
      redis.call('HSET', leavingKey, uid, at)
      return 1, 0, 1
    end
    return 1, 1, 0
  end
  redis.call('HSET', key, uid, cjson.encode(kept))
  return 1, 0, 0
end

local removed, leftRoom, roomPending = remove(KEYS[1], KEYS[5])
local stoppedTimer, timerPending
if KEYS[2] == KEYS[1] then
  stoppedTimer, timerPending = leftRoom, roomPending
else
  local _
  _, stoppedTimer, timerPending = remove(KEYS[2], KEYS[6])
end

local logLogout = 0
local status = redis.call('GET', KEYS[3])
if status == '1' or (status == false and ARGV[4] == '1') then
  redis.call('SET', KEYS[3], '0', 'EX', ttl)
  logLogout = 1
end

local seq = 0
if leftRoom == 1 then seq = redis.call('INCR', KEYS[4]) end

return { removed, leftRoom, stoppedTimer, logLogout, seq, roomPending, timerPending }
