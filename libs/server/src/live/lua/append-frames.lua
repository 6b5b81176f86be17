-- Appends the frames of one frame-clock tick, each to its own stream, and publishes each
-- delta, in one round trip. Per frame i: KEYS[2i-1] live hash, KEYS[2i] content;
-- ARGV[6i-5..6i] attempt, seq, text, publish command ('' = publish nothing), channel, message.
-- On Redis Cluster every key (and channel) of one call shares a hash slot.
-- A frame whose seq is already stored is not applied again: ioredis resends the commands
-- whose replies a Redis crash lost, and Redis may have run them (and kept them in its AOF).
-- Returns per frame: -1 when the attempt is no longer the current one (another worker
-- took over), else the cancel flag (1 = a cancel was requested), plus 2 when the frame
-- had already been applied (nothing appended, nothing published).
local out = {}
for i = 1, #KEYS / 2 do
  local live, content, a = KEYS[2 * i - 1], KEYS[2 * i], 6 * (i - 1)
  local cur = redis.call('HMGET', live, 'attempt', 'cancel', 'seq')
  local cancel = cur[2] and 1 or 0
  if cur[1] ~= ARGV[a + 1] then
    out[i] = -1
  elseif tonumber(cur[3] or '0') >= tonumber(ARGV[a + 2]) then
    out[i] = 2 + cancel
  else
    redis.call('APPEND', content, ARGV[a + 3])
    redis.call('HSET', live, 'seq', ARGV[a + 2])
    if ARGV[a + 4] ~= '' then redis.call(ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]) end
    out[i] = cancel
  end
end
return out
