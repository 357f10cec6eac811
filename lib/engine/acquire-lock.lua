-- Takes a named lock with the protocol of faye-redis (Ruby and Node): the lock
-- key holds the time (ms) at which it expires; a holder past that time may be
-- replaced. faye-redis does SETNX, then GET and GETSET; doing both steps in one
-- script makes the take-over atomic while staying compatible with it.
--
-- KEYS[1]  <ns>/locks/<name>
-- ARGV[1]  now (ms)
-- ARGV[2]  expiry (ms) to store if the lock is taken
-- ARGV[3]  time to live (ms) of the key, so that a crashed holder leaves nothing behind
--
-- Returns 1 if the lock is now ours, 0 if someone else holds it.

local now = tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])

if current and tonumber(current) and now < tonumber(current) then
  return 0
end

redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
