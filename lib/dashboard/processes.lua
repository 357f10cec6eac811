-- The cluster's process heartbeats, with those of processes long gone removed,
-- in one atomic step: a heartbeat written meanwhile is never deleted by a
-- reader that saw its older value.
--
-- KEYS[1] heartbeat hash   /<ns>/faye_online/processes  (field: process id, value: JSON with beatAt, ms)
-- ARGV[1] forget heartbeats older than this, ms since the epoch
--
-- Returns the remaining fields and values, flat: field1, json1, field2, json2, ...

local cutoff = tonumber(ARGV[1])
local flat = redis.call('HGETALL', KEYS[1])
local kept = {}
for i = 1, #flat, 2 do
  local ok, beat = pcall(cjson.decode, flat[i + 1])
  if ok and type(beat) == 'table' and type(beat.beatAt) == 'number' and beat.beatAt >= cutoff then
    table.insert(kept, flat[i])
    table.insert(kept, flat[i + 1])
  else
    redis.call('HDEL', KEYS[1], flat[i])
  end
end
return kept
