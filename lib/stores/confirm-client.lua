-- A clientId's first /meta/connect succeeded: its auth and status keys get the
-- full TTL (2 weeks, as the gem's). Until then arrive.lua keeps them for the
-- first TTL only, so that clientIds that never connected leave nothing behind
-- for long. Keys that are gone stay gone. One atomic step. (An arrival that
-- comes with the connect itself gives the full TTL at once, see arrive.lua's
-- ARGV[12]; this is for clientIds that arrived otherwise, such as by an
-- engagement report that overtook the page's first connect.)
--
-- KEYS[1] auth key         /<ns>/clientId_auth/<clientId>
-- KEYS[2] status key       /<ns>/clientId_status/<clientId>
-- ARGV[1] the full TTL, seconds
--
-- Returns the number of keys whose TTL was set.

local ttl = tonumber(ARGV[1])
local set = 0
for _, key in ipairs(KEYS) do
  if redis.call('TTL', key) < ttl then set = set + redis.call('EXPIRE', key, ttl) end
end
return set
