-- A page reports whether it is engaged (visible, and in use when it watches
-- for idleness). A user is engaged in a time channel while at least one of
-- their clientIds there is: this step reports the user's first engaged clientId
-- (an engaged session starts) and their last one going (it ends). One atomic step.
--
-- KEYS[1] time hash        /<ns>/uid_to_clientIds<time_channel> (the gem's)
-- KEYS[2] engaged hash     /<ns>/engaged<time_channel>: uid → {"since": ms the session started, "clientIds": [...]}
-- KEYS[3] report number    /<ns>/clientId_engagement/<clientId>: the last report applied
-- ARGV[1] uid (decimal)
-- ARGV[2] clientId
-- ARGV[3] '1' engaged, '0' not
-- ARGV[4] the page's report number ('' when the server carries a state over: no order check)
-- ARGV[5] TTL of the report number key, seconds
-- ARGV[6] now, ms (the start of a session that starts here)
--
-- Returns { absent, stale, started, stopped, session }: session is the start
-- (ms) of the session that started or stopped, 0 otherwise.

local uid, clientId, engaged, seq, now = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4], tonumber(ARGV[6])

local function decode(raw)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' then return value end
  return nil
end

local present = {}
for _, id in ipairs(decode(redis.call('HGET', KEYS[1], uid)) or {}) do present[id] = true end
if not present[clientId] then return { 1, 0, 0, 0, 0 } end

if seq ~= '' then
  local last = redis.call('GET', KEYS[3])
  if last and tonumber(last) >= tonumber(seq) then return { 0, 1, 0, 0, 0 } end
  redis.call('SET', KEYS[3], seq, 'EX', tonumber(ARGV[5]))
end

-- Only clientIds still in the time channel count: one that left without its
-- departure being processed here (a crash) must not keep the user engaged.
local state = decode(redis.call('HGET', KEYS[2], uid)) or {}
local since = tonumber(state.since) or now
local before, kept = 0, {}
for _, id in ipairs(type(state.clientIds) == 'table' and state.clientIds or {}) do
  if present[id] then
    before = before + 1
    if id ~= clientId then table.insert(kept, id) end
  end
end
if engaged then table.insert(kept, clientId) end

if before == 0 and #kept > 0 then since = now end
if #kept == 0 then
  redis.call('HDEL', KEYS[2], uid)
else
  redis.call('HSET', KEYS[2], uid, cjson.encode({ since = since, clientIds = kept }))
end
if before == 0 and #kept > 0 then return { 0, 0, 1, 0, since } end
if before > 0 and #kept == 0 then return { 0, 0, 0, 1, since } end
return { 0, 0, 0, 0, 0 }
