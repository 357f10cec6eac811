-- A clientId departs: remove it from the user's clientIds in the room and in the
-- time channel, and mark its logout as logged. One atomic step.
--
-- KEYS[1] room hash        /<ns>/uid_to_clientIds<room>
-- KEYS[2] time hash        /<ns>/uid_to_clientIds<time_channel>
-- KEYS[3] status key       /<ns>/clientId_status/<clientId>
-- KEYS[4] room sequence    /<ns>/presence_seq<room>
-- KEYS[5] room leaving     /<ns>/leaving<room>
-- KEYS[6] time leaving     /<ns>/leaving<time_channel>
-- KEYS[7] time engaged     /<ns>/engaged<time_channel> (see engage.lua)
-- ARGV[1] uid (decimal)
-- ARGV[2] clientId
-- ARGV[3] TTL of the status key, seconds
-- ARGV[4] '1' when the caller saw this clientId's login itself: a missing status
--         key (Redis lost its data) then still means "logged in"
-- ARGV[5] when the clientId was last seen, ms
-- ARGV[6] '1' to defer the user's leave (grace period): the last clientId's
--         departure then marks the leave as pending instead of leaving
-- ARGV[7] now, ms: the mark is "<ARGV[5]>,<ARGV[7]>", the last sighting (when a
--         confirmed leave takes effect) and when the grace began (its freshness)
--
-- Returns { removed, leftRoom, stoppedTimer, logLogout, seq, roomLeavePending, timerStopPending,
--           wasEngaged, disengaged, session }
-- (seq: the room's sequence number after this leave, 0 when nobody left;
-- disengaged: the user's last engaged clientId in the time channel left, so
-- engaged time stops; it is never deferred, a page that is gone is not engaged;
-- session: the start (ms) of the engaged session that ended, 0 otherwise)

local uid, clientId, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local at, defer = ARGV[5], ARGV[6] == '1'
local mark = ARGV[5] .. ',' .. ARGV[7]

-- A JSON value the gem or we wrote; anything unreadable counts as empty.
local function decode(raw)
  if not raw then return {} end
  local ok, value = pcall(cjson.decode, raw)
  if not ok or type(value) ~= 'table' then return {} end
  return value
end

-- Returns removed, last (the user's last clientId left), pending (that leave is deferred)
local function remove(key, leavingKey)
  local raw = redis.call('HGET', key, uid)
  if not raw then return 0, 0, 0 end
  local kept, found = {}, false
  for _, v in ipairs(decode(raw)) do
    if v == clientId then found = true else table.insert(kept, v) end
  end
  if not found then return 0, 0, 0 end
  if #kept == 0 then
    redis.call('HDEL', key, uid)
    if defer then
      redis.call('HSET', leavingKey, uid, mark)
      return 1, 0, 1
    end
    return 1, 1, 0
  end
  redis.call('HSET', key, uid, cjson.encode(kept))
  return 1, 0, 0
end

-- The time channel's clientIds before this departure, for the engaged list.
local engagedRaw = redis.call('HGET', KEYS[7], uid)
local presentBefore = {}
if engagedRaw then
  for _, id in ipairs(decode(redis.call('HGET', KEYS[2], uid))) do presentBefore[id] = true end
end

local removed, leftRoom, roomPending = remove(KEYS[1], KEYS[5])
local stoppedTimer, timerPending
if KEYS[2] == KEYS[1] then
  stoppedTimer, timerPending = leftRoom, roomPending
else
  local _
  _, stoppedTimer, timerPending = remove(KEYS[2], KEYS[6])
end

local wasEngaged, disengaged, session = 0, 0, 0
if engagedRaw then
  local presentAfter = {}
  for _, id in ipairs(decode(redis.call('HGET', KEYS[2], uid))) do presentAfter[id] = true end
  local state = decode(engagedRaw)
  local before, kept = 0, {}
  for _, id in ipairs(type(state.clientIds) == 'table' and state.clientIds or {}) do
    if id == clientId then wasEngaged = 1 end
    if presentBefore[id] then before = before + 1 end
    if presentAfter[id] and id ~= clientId then table.insert(kept, id) end
  end
  if #kept == 0 then
    redis.call('HDEL', KEYS[7], uid)
  else
    state.clientIds = kept
    redis.call('HSET', KEYS[7], uid, cjson.encode(state))
  end
  if before > 0 and #kept == 0 then
    disengaged = 1
    session = tonumber(state.since) or tonumber(at)
  end
end

local logLogout = 0
local status = redis.call('GET', KEYS[3])
if status == '1' or (status == false and ARGV[4] == '1') then
  redis.call('SET', KEYS[3], '0', 'EX', ttl)
  logLogout = 1
end

local seq = 0
if leftRoom == 1 then seq = redis.call('INCR', KEYS[4]) end

return { removed, leftRoom, stoppedTimer, logLogout, seq, roomPending, timerPending, wasEngaged, disengaged, session }
