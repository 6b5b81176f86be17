-- Pushes the expiry of entries that still exist (KEYS[i], member ARGV[i + 1]) to now + ARGV[1] ms;
-- a closed entry is not revived by a late heartbeat.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('ZADD', KEYS[i], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i + 1])
  keep_at_least(KEYS[i], tonumber(ARGV[1]))
end
return n
