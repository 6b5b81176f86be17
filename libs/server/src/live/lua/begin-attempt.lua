-- Starts a new attempt of a stream: bumps the attempt, empties the content.
-- KEYS: live hash, content. ARGV: ttl (s).
-- Returns {attempt, cancelled}, or {-1, 1} when the stream already ended.
local status = redis.call('HGET', KEYS[1], 'status')
if status and TERMINAL[status] then return {-1, 1} end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
redis.call('HSET', KEYS[1], 'seq', 0, 'status', 'streaming')
redis.call('SET', KEYS[2], '')
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local cancel = redis.call('HGET', KEYS[1], 'cancel')
return {attempt, cancel and 1 or 0}
