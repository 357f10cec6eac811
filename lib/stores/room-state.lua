-- A room's members and its sequence number, read together, so that a
-- subscriber of <room>/presence can apply exactly the diffs that come after.
-- It only reads: declared readOnly in redis-store.ts.
--
-- KEYS[1] room hash        /<ns>/uid_to_clientIds<room>
-- KEYS[2] room sequence    /<ns>/presence_seq<room>
--
-- Returns { seq, uid1, clientIds1 JSON, uid2, clientIds2 JSON, ... }

local result = { tonumber(redis.call('GET', KEYS[2]) or '0') }
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields do table.insert(result, fields[i]) end
return result
