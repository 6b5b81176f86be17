-- A consistent read of one stream. KEYS: live hash, content.
-- Returns {attempt, seq, status, content}, or false for an unknown stream.
local cur = redis.call('HMGET', KEYS[1], 'attempt', 'seq', 'status')
if not cur[1] then return false end
return {cur[1], cur[2], cur[3], redis.call('GET', KEYS[2]) or ''}
