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
-- KEYS[8] time arrived     /<ns>/arrived<time_channel>: clientId → ms of its arrival there (see arrive.lua)
-- KEYS[9] time departed    /<ns>/departed<time_channel>: uid → "<from>:<until>,..." when the
--                          user's departed clientIds were seen there since their timer started
-- KEYS[10] auth key        /<ns>/clientId_auth/<clientId>
-- KEYS[11] events outbox   /<ns>/events_outbox (see lib/events/outbox.lua)
-- KEYS[12] events dropped  /<ns>/events_outbox_dropped
-- KEYS[13] room resumed    /<ns>/resumed<room> (see arrive.lua)
-- ARGV[1] uid (decimal)
-- ARGV[2] clientId
-- ARGV[3] TTL of the status key, seconds
-- ARGV[4] '1' when the caller saw this clientId's login itself: a missing status
--         key (Redis lost its data) then still means "logged in"
-- ARGV[5] when the clientId was last seen, ms
-- ARGV[6] '1' to defer the user's leave (grace period): the last clientId's
--         departure then marks the leave as pending instead of leaving
-- ARGV[7] now, ms: the mark is "<leaveAt>,<ARGV[7]>", the last sighting (when a
--         confirmed leave takes effect) and when the grace began (its freshness)
-- ARGV[8] the timer's resolution, ms: a shorter unseen gap is no gap
-- ARGV[9] first TTL of the status key, seconds (see arrive.lua): a status key
--         that still has at most this left keeps its TTL
-- ARGV[10] '<room> <time channel>' when the caller's memory of the clientId's
--         place may be stale (another process may have moved the page): if its
--         remembered auth names another place, nothing changes and the result
--         is { 'elsewhere', remembered auth JSON }; '' for no check
-- ARGV[11] most entries of the events outbox; 0: events are off
-- ARGV[12] the room's name, ARGV[13] why the clientId departed (for the leave, and vacated when nobody is left)
-- ARGV[14] for a page's move, the room it moves to (its arrival there follows); '' otherwise
-- ARGV[15] grace period of leaves, ms
--
-- Returns { removed, leftRoom, stoppedTimer, logLogout, seq, roomLeavePending, timerStopPending,
--           wasEngaged, disengaged, session, leaveAt, engagedPausedAt, engagedResumedAt, markedAt,
--           unseen gaps as from, until... }
-- (seq: the room's sequence number after this leave, 0 when nobody left;
-- disengaged: the user's last engaged clientId in the time channel left, so
-- engaged time stops; it is never deferred, a page that is gone is not engaged;
-- session: the start (ms) of the engaged session that ended or paused, 0 otherwise;
-- engagedPausedAt, engagedResumedAt: the engaged session spans an unseen gap:
-- it ends at engagedPausedAt and a new one starts at engagedResumedAt (0, 0 otherwise);
-- leaveAt: as of when the leave and the timer's stop take effect: ARGV[5], or,
-- when the user's last clientId leaves the time channel, the end of the last
-- sighting of their clientIds there (a departure backdated to a lost page's
-- last ping must not stop the timer before another page's later departure);
-- unseen gaps: after this clientId's last sighting, spans in which none of the
-- user's clientIds was seen there (the ones that stay arrived later, the ones
-- that left had gone): the caller stops the timer at each `from` and starts it
-- again at its `until`, in order, before a stop at leaveAt)

local uid, clientId, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local at, defer = tonumber(ARGV[5]), ARGV[6] == '1'
local resolution = tonumber(ARGV[8])

-- A JSON value the gem or we wrote; anything unreadable counts as empty.
local function decode(raw)
  if not raw then return {} end
  local ok, value = pcall(cjson.decode, raw)
  if not ok or type(value) ~= 'table' then return {} end
  return value
end

-- The clientId's login status is one for the clientId, logged where its auth
-- is remembered: a departure from a place it already left would log the
-- logout of the place it is in.
if ARGV[10] ~= '' then
  local remembered = redis.call('GET', KEYS[10])
  if remembered then
    local auth = decode(remembered)
    if type(auth.room_channel) == 'string' and type(auth.time_channel) == 'string'
      and auth.room_channel .. ' ' .. auth.time_channel ~= ARGV[10] then
      return { 'elsewhere', remembered }
    end
  end
end

-- Returns removed, last (the user's last clientId left), pending (that leave
-- is deferred: `mark` is set; without one the user leaves at once)
local function remove(key, leavingKey, mark)
  local raw = redis.call('HGET', key, uid)
  if not raw then return 0, 0, 0 end
  local kept, found = {}, false
  for _, v in ipairs(decode(raw)) do
    if v == clientId then found = true else table.insert(kept, v) end
  end
  if not found then return 0, 0, 0 end
  if #kept == 0 then
    redis.call('HDEL', key, uid)
    if mark then
      redis.call('HSET', leavingKey, uid, mark)
      return 1, 0, 1
    end
    return 1, 1, 0
  end
  redis.call('HSET', key, uid, cjson.encode(kept))
  return 1, 0, 0
end

-- The user's clientIds in the time channel before this departure (for the
-- engaged list), and the others among them.
local engagedRaw = redis.call('HGET', KEYS[7], uid)
local presentBefore, inTime, others = {}, false, {}
for _, id in ipairs(decode(redis.call('HGET', KEYS[2], uid))) do
  presentBefore[id] = true
  if id == clientId then inTime = true else table.insert(others, id) end
end
local arrivedAt = tonumber(redis.call('HGET', KEYS[8], clientId)) or 0

-- When the user was seen there by clientIds that departed since their timer
-- started: "<from>:<until>" spans, comma-separated, sorted and merged.
local spans = {}
for from, till in string.gmatch(redis.call('HGET', KEYS[9], uid) or '', '(%d+):(%d+)') do
  table.insert(spans, { tonumber(from), tonumber(till) })
end
-- The earliest arrival of the clientIds that stay; one without an arrival
-- time (kept before we kept them) counts as there all along.
local earliest = nil
if #others > 0 then
  for _, arrived in ipairs(redis.call('HMGET', KEYS[8], unpack(others))) do
    local ms = tonumber(arrived) or 0
    if earliest == nil or ms < earliest then earliest = ms end
  end
end

-- From this clientId's last sighting on, the user was seen by the spans and,
-- from `earliest` on, by the clientIds that stay. What nobody saw, for longer
-- than the timer's resolution, is an unseen gap; with nobody staying, the last
-- sighting is where the spans end.
local gaps, leaveAt = {}, at
if inTime then
  local seenUntil = at
  for _, span in ipairs(spans) do
    if earliest and span[1] >= earliest then break end
    if span[2] > seenUntil then
      if span[1] - seenUntil >= resolution then table.insert(gaps, { seenUntil, span[1] }) end
      seenUntil = span[2]
    end
  end
  if earliest then
    if earliest - seenUntil >= resolution then table.insert(gaps, { seenUntil, earliest }) end
  else
    leaveAt = seenUntil
  end
end
local now = tonumber(ARGV[7])
local mark = defer and string.format('%d,%d', leaveAt, now) or nil

-- A page's move to another time channel of the same room: the clientId stays
-- in the room, so the user neither leaves nor joins it. (A room that is also
-- the time channel left is left with it.)
local movingTo = ARGV[14]
local staysInRoom = movingTo == ARGV[12] and KEYS[1] ~= KEYS[2]
-- A move out of a room whose pending leave this clientId's arrival cancelled
-- hands that leave back while its grace lasts: the page came and went within
-- it, and the user's page that left first may still come back in time.
local roomMark, markedAt = mark, defer and now or 0
if not staysInRoom then
  local resumedAt = tonumber(redis.call('HGET', KEYS[13], clientId))
  redis.call('HDEL', KEYS[13], clientId)
  if movingTo ~= '' and not defer and resumedAt and resumedAt + tonumber(ARGV[15]) > now then
    roomMark, markedAt = string.format('%d,%d', leaveAt, resumedAt), resumedAt
  end
end

local removed, leftRoom, roomPending = 0, 0, 0
if not staysInRoom then removed, leftRoom, roomPending = remove(KEYS[1], KEYS[5], roomMark) end
local stoppedTimer, timerPending
if KEYS[2] == KEYS[1] then
  stoppedTimer, timerPending = leftRoom, roomPending
else
  local _
  _, stoppedTimer, timerPending = remove(KEYS[2], KEYS[6], mark)
end
if roomPending == 0 and timerPending == 0 then markedAt = 0 end

if inTime then
  redis.call('HDEL', KEYS[8], clientId)
  if earliest == nil then
    redis.call('HDEL', KEYS[9], uid)
  else
    -- Keep what a later departure may still need: a clientId that stays
    -- arrived at `earliest` or after, so its last sighting is no earlier.
    table.insert(spans, { arrivedAt, at })
    table.sort(spans, function(a, b) return a[1] < b[1] end)
    local kept = {}
    for _, span in ipairs(spans) do
      local last = kept[#kept]
      if span[2] >= earliest then
        if last and span[1] - last[2] < resolution then
          last[2] = math.max(last[2], span[2])
        else
          table.insert(kept, { span[1], span[2] })
        end
      end
    end
    local parts = {}
    for _, span in ipairs(kept) do table.insert(parts, string.format('%d:%d', span[1], span[2])) end
    if #parts == 0 then redis.call('HDEL', KEYS[9], uid) else redis.call('HSET', KEYS[9], uid, table.concat(parts, ',')) end
  end
end

local wasEngaged, disengaged, session, engagedPausedAt, engagedResumedAt = 0, 0, 0, 0, 0
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
  local since = tonumber(state.since) or at
  if before > 0 and #kept == 0 then
    disengaged = 1
    session = since
  elseif before > 0 then
    -- Nobody saw the user during an unseen gap: nor were they engaged. The
    -- session pauses at the first gap it spans and goes on as a new one after
    -- the last.
    for _, gap in ipairs(gaps) do
      if gap[2] > since then
        session, engagedPausedAt, engagedResumedAt = since, math.max(since, gap[1]), gaps[#gaps][2]
        state.since = engagedResumedAt
        break
      end
    end
  end
  if #kept == 0 then
    redis.call('HDEL', KEYS[7], uid)
  else
    state.clientIds = kept
    redis.call('HSET', KEYS[7], uid, cjson.encode(state))
  end
end

local logLogout = 0
local status = redis.call('GET', KEYS[3])
if status == '1' or (status == false and ARGV[4] == '1') then
  local left = redis.call('TTL', KEYS[3])
  if left > 0 and left <= tonumber(ARGV[9]) then ttl = left end
  redis.call('SET', KEYS[3], '0', 'EX', ttl)
  logLogout = 1
end

local seq = 0
if leftRoom == 1 then
  seq = redis.call('INCR', KEYS[4])
  local limit = tonumber(ARGV[11]) or 0
  appendEvent(KEYS[11], KEYS[12], limit, 'leave', uid, ARGV[12], leaveAt, seq, ARGV[13], clientId)
  if limit > 0 and roomEmpty(KEYS[1], KEYS[5]) then appendEvent(KEYS[11], KEYS[12], limit, 'vacated', nil, ARGV[12], leaveAt, seq, ARGV[13], clientId) end
end

local result = { removed, leftRoom, stoppedTimer, logLogout, seq, roomPending, timerPending, wasEngaged, disengaged, session, leaveAt,
  engagedPausedAt, engagedResumedAt, markedAt }
for _, gap in ipairs(gaps) do
  table.insert(result, gap[1])
  table.insert(result, gap[2])
end
return result
