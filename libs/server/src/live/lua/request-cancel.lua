-- Flags a stream cancelled and tells every worker (the one running it stops).
-- KEYS: live hash. ARGV: ttl (s) for a stream not started yet, cancel channel, stream id.
redis.call('HSET', KEYS[1], 'cancel', 1)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
