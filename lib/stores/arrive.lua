-- A clientId arrives: add it to the user's clientIds in the room and in the time
-- channel, remember its auth, and mark its login as logged. One atomic step, so
-- that in a cluster exactly one caller sees each transition.
--
-- KEYS[1] room hash        /<ns>/uid_to_clientIds<room>
-- KEYS[2] time hash        /<ns>/uid_to_clientIds<time_channel>
-- KEYS[3] auth key         /<ns>/clientId_auth/<clientId>
-- KEYS[4] status key       /<ns>/clientId_status/<clientId>
-- KEYS[5] room sequence    /<ns>/presence_seq<room> (counts the room's joins and leaves)
-- KEYS[6] room leaving     /<ns>/leaving<room>: uid → "<last seen ms>,<marked ms>" of a leave
--                          still in its grace period (see depart.lua)
-- KEYS[7] time leaving     /<ns>/leaving<time_channel>
-- KEYS[8] time arrived     /<ns>/arrived<time_channel>: clientId → ms of its arrival there
--                          (a departure compares the last sighting with it, see depart.lua)
-- KEYS[9] time departed    /<ns>/departed<time_channel>: cleared when the user's timer starts
-- KEYS[10] events outbox   /<ns>/events_outbox (see lib/events/outbox.lua)
-- KEYS[11] events dropped  /<ns>/events_outbox_dropped
-- KEYS[12] room resumed    /<ns>/resumed<room>: clientId → ms when the grace of the
--                          user's pending leave that its arrival cancelled began
--                          (a move out of the room hands that leave back, see depart.lua)
-- KEYS[13] engine clients  <ns>/clients: the Redis engine's clientId → last ping (ms); read
--                          and written only with ARGV[11]
-- ARGV[1] uid (decimal)
-- ARGV[2] clientId
-- ARGV[3] auth JSON
-- ARGV[4] TTL of the auth and status keys, seconds
-- ARGV[5] maximum clientIds per user in one room (the oldest are evicted past it)
-- ARGV[6] now, ms
-- ARGV[7] grace period of leaves, ms: a user coming back while their leave is
--         pending did not leave the room at all (no join, no leave)
-- ARGV[8] first TTL of the auth and status keys, seconds: a clientId whose first
--         /meta/connect has not succeeded yet keeps them this long only (see
--         confirm-client.lua); one that has (a TTL above this one) gets ARGV[4]
-- ARGV[9] most entries of the events outbox; 0: events are off
-- ARGV[10] the room's name (for its events: a join, and occupied when the user is its first)
-- ARGV[11] '' or the engine's liveness cutoff (ms): the clientId arrives only if the
--          engine knows it with a later ping, and is pinged now (the engine's own
--          check and ping, folded into this step so that an arrival is one round trip)
-- ARGV[12] '1' when the arrival comes with a /meta/connect Faye will accept: the
--          auth and status keys get the full TTL at once (see confirm-client.lua)
--
-- Returns { added, joinedRoom, startedTimer, logLogin, seq, resumedFrom, previousAuth, evicted clientId... },
-- or { -1 } when the clientId is remembered for another user (nothing changes; the ping stays),
-- or { -2 } when the engine does not know the clientId (nothing changes)
-- (seq: the room's sequence number after this join, 0 when nobody joined;
-- resumedFrom: when the user came back during a pending stop of the timer, the
-- last sighting that stop was for (ms), else 0: the caller stops the timer there
-- and starts it again now, because the time unseen was not online time;
-- previousAuth: the auth JSON remembered for this clientId before, when it
-- differs from this one, else '': the caller moves the clientId out of the
-- room and time channel it named, so that one clientId is never in two rooms)

local uid, clientId, ttl, limit = ARGV[1], ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
local now, grace = tonumber(ARGV[6]), tonumber(ARGV[7])
local firstTtl = tonumber(ARGV[8])

if ARGV[11] ~= '' then
  local lastPing = redis.call('ZSCORE', KEYS[13], clientId)
  if not lastPing or tonumber(lastPing) <= tonumber(ARGV[11]) then return { -2 } end
  -- XX: as the engine's ping, it never brings back a client destroyed meanwhile.
  redis.call('ZADD', KEYS[13], 'XX', now, clientId)
end

-- A pending leave of this user is cancelled; returns the last sighting it was
-- for and when it was marked (ms), or nil. It counts only while fresh: a mark
-- set much longer ago than the grace period belongs to a process that died
-- before confirming it, and the user did leave. Freshness counts from when the
-- mark was set, not from the last sighting, which after an engine timeout is
-- already two Faye timeouts old. (A mark without its second part predates
-- that rule.)
local function resumes(leavingKey)
  local mark = redis.call('HGET', leavingKey, uid)
  if not mark then return nil end
  redis.call('HDEL', leavingKey, uid)
  local lastSeen, markedAt = string.match(mark, '^(%d+),?(%d*)$')
  if not lastSeen then return nil end
  if markedAt == '' then markedAt = lastSeen end
  if tonumber(markedAt) + 2 * grace + 10000 < now then return nil end
  return tonumber(lastSeen), tonumber(markedAt)
end

-- Values are JSON arrays of clientIds, as the Ruby gem writes them; anything
-- unreadable counts as empty rather than failing the arrival.
local function read(key)
  local raw = redis.call('HGET', key, uid)
  if not raw then return {} end
  local ok, list = pcall(cjson.decode, raw)
  if not ok or type(list) ~= 'table' then return {} end
  return list
end

local function write(key, list)
  if #list == 0 then
    redis.call('HDEL', key, uid)
  else
    redis.call('HSET', key, uid, cjson.encode(list))
  end
end

local function contains(list, value)
  for _, v in ipairs(list) do
    if v == value then return true end
  end
  return false
end

local function add(key)
  local list = read(key)
  if contains(list, clientId) then return 0, 0, {} end
  local first = (#list == 0) and 1 or 0
  table.insert(list, clientId)
  local evicted = {}
  while #list > limit do
    table.insert(evicted, table.remove(list, 1))
  end
  write(key, list)
  return 1, first, evicted
end

-- A clientId belongs to the user it first arrived as: one page cannot take
-- over another user's clientId by sending it with its own auth.
local remembered = redis.call('GET', KEYS[3])
local previousAuth = ''
if remembered and remembered ~= ARGV[3] then previousAuth = remembered end
if remembered then
  local ok, previous = pcall(cjson.decode, remembered)
  if ok and type(previous) == 'table' and type(previous.current_user) == 'table'
    and previous.current_user.uid ~= nil and tostring(previous.current_user.uid) ~= uid then
    return { -1 }
  end
end

local added, joinedRoom, evicted = add(KEYS[1])
local resumedFrom = 0
local roomResumed, roomMarkedAt
if joinedRoom == 1 then roomResumed, roomMarkedAt = resumes(KEYS[6]) end
if roomResumed then
  joinedRoom = 0
  redis.call('HSET', KEYS[12], clientId, roomMarkedAt)
end
for _, id in ipairs(evicted) do redis.call('HDEL', KEYS[12], id) end
local startedTimer, timeAdded, timeEvicted
if KEYS[2] == KEYS[1] then
  startedTimer, timeAdded, timeEvicted = joinedRoom, added, evicted
  if roomResumed then resumedFrom = roomResumed end
else
  timeAdded, startedTimer, timeEvicted = add(KEYS[2])
  local timerResumed = startedTimer == 1 and resumes(KEYS[7])
  if timerResumed then
    startedTimer = 0
    resumedFrom = timerResumed
  end
end

if timeAdded == 1 then redis.call('HSET', KEYS[8], clientId, now) end
for _, id in ipairs(timeEvicted) do redis.call('HDEL', KEYS[8], id) end
if startedTimer == 1 or resumedFrom > 0 then redis.call('HDEL', KEYS[9], uid) end

-- Connecting, confirmed before or written by the gem: a TTL longer than the first one.
local connecting = ARGV[12] == '1'
local recordTtl = firstTtl
if connecting or redis.call('TTL', KEYS[3]) > firstTtl then recordTtl = ttl end
redis.call('SET', KEYS[3], ARGV[3], 'EX', recordTtl)

local logLogin = 0
if redis.call('GET', KEYS[4]) ~= '1' then
  redis.call('SET', KEYS[4], '1', 'EX', recordTtl)
  logLogin = 1
elseif connecting and redis.call('TTL', KEYS[4]) < ttl then
  redis.call('EXPIRE', KEYS[4], ttl)
end

local seq = 0
if joinedRoom == 1 then
  seq = redis.call('INCR', KEYS[5])
  local limit = tonumber(ARGV[9]) or 0
  appendEvent(KEYS[10], KEYS[11], limit, 'join', uid, ARGV[10], now, seq, 'connect', clientId)
  if limit > 0 and redis.call('HLEN', KEYS[1]) == 1 and redis.call('HLEN', KEYS[6]) == 0 then
    appendEvent(KEYS[10], KEYS[11], limit, 'occupied', nil, ARGV[10], now, seq, 'connect', clientId)
  end
end

local result = { added, joinedRoom, startedTimer, logLogin, seq, resumedFrom, previousAuth }
for _, id in ipairs(evicted) do table.insert(result, id) end
return result
