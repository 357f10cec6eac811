-- Puts messages taken from a client's queue back at its head, in their order,
-- when the connection they were taken for closed before they could be handed
-- over. Only while the client exists, so a destroyed client's queue stays gone.
--
-- KEYS[1]  <ns>/clients                      sorted set clientId -> last ping (ms)
-- KEYS[2]  <ns>/clients/<clientId>/messages  list of queued JSON messages
-- ARGV[1]  clientId
-- ARGV[2..n]  the JSON messages, oldest first
--
-- Returns the number of messages put back.

if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end

for i = #ARGV, 2, -1 do
  redis.call('LPUSH', KEYS[2], ARGV[i])
end
return #ARGV - 1
