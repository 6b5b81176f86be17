-- Records a stream's final status (once) and publishes its final event.
-- KEYS: live hash, content. ARGV: status, seq ('' = keep), ttl (s),
-- publish command ('' = publish nothing), channel, message.
-- Returns 1 when this call ended the stream, 0 when it had already ended.
local status = redis.call('HGET', KEYS[1], 'status')
if status and TERMINAL[status] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'seq', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if ARGV[4] ~= '' then redis.call(ARGV[4], ARGV[5], ARGV[6]) end
return 1
