-- Marks thread KEYS[1] open by socket ARGV[1] for ARGV[2] ms.
-- Scores are expiry times in Redis's own clock, so API instances with skewed clocks agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
keep_at_least(KEYS[1], tonumber(ARGV[2]))
return 1
