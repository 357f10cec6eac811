-- A clientId departs: remove it from the user's clientIds in the room and in the
-- time channel, and mark its logout as logged. One atomic step.
--
-- KEYS[1] room hash        /<ns>/uid_to_clientIds<room>
-- KEYS[2] time hash        /<ns>/uid_to_clientIds<time_channel>
-- KEYS[3] status key       /<ns>/clientId_status/<clientId>
-- KEYS[4] room sequence    /<ns>/presence_seq<room>
-- ARGV[1] uid (decimal)
-- ARGV[2] clientId
-- ARGV[3] TTL of the status key, seconds
-- ARGV[4] '1' when the caller saw this clientId's login itself: a missing status
--         key (Redis lost its data) then still means "logged in"
--
-- Returns { removed, leftRoom, stoppedTimer, logLogout, seq }
-- (seq: the room's sequence number after this leave, 0 when nobody left)

local uid, clientId, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local function remove(key)
  local raw = redis.call('HGET', key, uid)
  if not raw then return 0, 0 end
  local ok, list = pcall(cjson.decode, raw)
  if not ok or type(list) ~= 'table' then list = {} end
  local kept, found = {}, false
  for _, v in ipairs(list) do
    if v == clientId then found = true else table.insert(kept, v) end
  end
  if not found then return 0, 0 end
  if #kept == 0 then
    redis.call('HDEL', key, uid)
    return 1, 1
  end
  redis.call('HSET', key, uid, cjson.encode(kept))
  return 1, 0
end

local removed, leftRoom = remove(KEYS[1])
local stoppedTimer
if KEYS[2] == KEYS[1] then
  stoppedTimer = leftRoom
else
  local _
  _, stoppedTimer = remove(KEYS[2])
end

local logLogout = 0
local status = redis.call('GET', KEYS[3])
if status == '1' or (status == false and ARGV[4] == '1') then
  redis.call('SET', KEYS[3], '0', 'EX', ttl)
  logLogout = 1
end

local seq = 0
if leftRoom == 1 then seq = redis.call('INCR', KEYS[4]) end

return { removed, leftRoom, stoppedTimer, logLogout, seq }
