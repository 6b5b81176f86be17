-- Appends frame ARGV[2] of attempt ARGV[1] and publishes its delta, in one round trip.
-- KEYS: live hash, content. ARGV: attempt, seq, text, channel ('' = publish nothing), message.
-- Returns -1 when the attempt is no longer the current one (another worker took over),
-- else the cancel flag (1 = a cancel was requested).
local cur = redis.call('HMGET', KEYS[1], 'attempt', 'cancel')
if cur[1] ~= ARGV[1] then return -1 end
redis.call('APPEND', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'seq', ARGV[2])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
if cur[2] then return 1 end
return 0
