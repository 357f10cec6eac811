-- Removes the given clientIds from one user's list in one room or time channel
-- (a sweep of clientIds that no longer exist). Atomic against arrivals.
--
-- KEYS[1] channel hash     /<ns>/uid_to_clientIds<channel>
-- KEYS[2] arrival times    /<ns>/arrived<channel> (see arrive.lua): the removed clientIds' go too
-- KEYS[3] resumed leaves   /<ns>/resumed<channel> (see arrive.lua): likewise
-- ARGV[1] uid (decimal)
-- ARGV[2..n] clientIds to remove
--
-- Returns the number of clientIds left for that user.

local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local ok, list = pcall(cjson.decode, raw)
if not ok or type(list) ~= 'table' then list = {} end
local drop = {}
for i = 2, #ARGV do drop[ARGV[i]] = true end
local kept = {}
for _, v in ipairs(list) do
  if drop[v] then
    redis.call('HDEL', KEYS[2], v)
    redis.call('HDEL', KEYS[3], v)
  else
    table.insert(kept, v)
  end
end
if #kept == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(kept))
end
return #kept
