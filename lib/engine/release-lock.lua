-- Releases a lock taken by acquire-lock.lua, only if it still holds our expiry
-- value (a holder that overran the timeout must not delete its successor's lock).
--
-- KEYS[1]  <ns>/locks/<name>
-- ARGV[1]  the expiry value written when the lock was taken
--
-- Returns 1 if the lock was released, 0 otherwise.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
