import type { Redis } from 'ioredis';
import type { StreamStatus } from '@bgs/shared';
import type { RedisKeys } from '../redis/keys';
import type { RoomPacket } from './socketio-packet';

/**
 * The live state of a stream in Redis: a hash (attempt, seq, status, cancel flag) and
 * the content of the current attempt as a string. Every write is one Lua script, so a
 * frame costs one round trip and content, attempt and seq never disagree.
 */

// Starts a new attempt: bumps the attempt, empties the content. Refuses a stream that
// already ended. Returns {attempt, cancelled}.
const BEGIN_ATTEMPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'completed' or status == 'failed' or status == 'cancelled' then return {-1, 1} end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
redis.call('HSET', KEYS[1], 'seq', 0, 'status', 'streaming')
redis.call('SET', KEYS[2], '')
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local cancel = redis.call('HGET', KEYS[1], 'cancel')
return {attempt, cancel and 1 or 0}
`;

// Appends frame ARGV[2] of attempt ARGV[1] and publishes its delta. Returns -1 when the
// attempt is no longer the current one (another worker took over), else the cancel flag.
const APPEND_FRAME = `
local cur = redis.call('HMGET', KEYS[1], 'attempt', 'cancel')
if cur[1] ~= ARGV[1] then return -1 end
redis.call('APPEND', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'seq', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
if cur[2] then return 1 end
return 0
`;

// Records the final status (once) and publishes the final event. ARGV[1] = attempt or ''
// when the stream never started. Returns 1 when this call ended the stream.
const FINISH = `
local cur = redis.call('HMGET', KEYS[1], 'attempt', 'status')
if cur[2] == 'completed' or cur[2] == 'failed' or cur[2] == 'cancelled' then return 0 end
if ARGV[1] ~= '' and cur[1] and cur[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'seq', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

// Flags the stream cancelled and tells every worker. Returns the status it had.
const REQUEST_CANCEL = `
redis.call('HSET', KEYS[1], 'cancel', 1)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return redis.call('HGET', KEYS[1], 'status') or ''
`;

// A consistent read of one stream: {attempt, seq, status, content}.
const READ = `
local cur = redis.call('HMGET', KEYS[1], 'attempt', 'seq', 'status')
if not cur[1] then return false end
return {cur[1], cur[2], cur[3], redis.call('GET', KEYS[2]) or ''}
`;

type LiveCommands = {
  bgsBeginAttempt(live: string, content: string, ttl: number): Promise<[number, number]>;
  bgsAppendFrame(live: string, content: string, attempt: string, seq: string, text: string, channel: string, message: Buffer): Promise<number>;
  bgsFinish(live: string, content: string, attempt: string, status: string, seq: string, ttl: number, channel: string, message: Buffer): Promise<number>;
  bgsRequestCancel(live: string, ttl: number, channel: string, streamId: string): Promise<string>;
  bgsRead(live: string, content: string): Promise<[string, string, string, string] | null>;
};

export interface LiveSnapshot {
  attempt: number;
  seq: number;
  status: StreamStatus;
  content: string;
}

export type FrameOutcome = 'appended' | 'cancel-requested' | 'superseded';

/** Keeps a stream's live content for `liveTtlSeconds` after the last write (it is persisted by then). */
export class LiveStreamStore {
  private readonly redis: Redis & LiveCommands;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    private readonly liveTtlSeconds: number,
    /** While a stream runs its keys live at least this long; refreshed by every attempt. */
    private readonly runningTtlSeconds = 24 * 3600,
  ) {
    this.redis = defineLiveCommands(redis);
  }

  /** Starts a new attempt from empty content; null when the stream already ended. */
  async beginAttempt(streamId: string): Promise<{ attempt: number; cancelled: boolean } | null> {
    const [attempt, cancelled] = await this.redis.bgsBeginAttempt(
      this.keys.streamLive(streamId), this.keys.streamContent(streamId), this.runningTtlSeconds,
    );
    if (attempt < 0) return null;
    return { attempt, cancelled: cancelled === 1 };
  }

  async publish(packet: RoomPacket): Promise<void> {
    await this.redis.publish(packet.channel, packet.message);
  }

  /** One round trip: append frame `seq`, move the seq, publish the delta. */
  async appendFrame(streamId: string, attempt: number, seq: number, text: string, packet: RoomPacket): Promise<FrameOutcome> {
    const r = await this.redis.bgsAppendFrame(
      this.keys.streamLive(streamId), this.keys.streamContent(streamId), String(attempt), String(seq), text, packet.channel, packet.message,
    );
    return r < 0 ? 'superseded' : r === 1 ? 'cancel-requested' : 'appended';
  }

  /** Marks the stream ended (once) and publishes its final event. */
  async finish(streamId: string, attempt: number | null, status: StreamStatus, seq: number | null, packet: RoomPacket): Promise<boolean> {
    const r = await this.redis.bgsFinish(
      this.keys.streamLive(streamId), this.keys.streamContent(streamId), attempt === null ? '' : String(attempt), status,
      seq === null ? '' : String(seq), this.liveTtlSeconds, packet.channel, packet.message,
    );
    return r === 1;
  }

  /** Sets the cancel flag and broadcasts the cancel to every worker. */
  async requestCancel(streamId: string): Promise<string> {
    return this.redis.bgsRequestCancel(this.keys.streamLive(streamId), this.runningTtlSeconds, this.keys.cancelChannel, streamId);
  }

  async read(streamId: string): Promise<LiveSnapshot | null> {
    const r = await this.redis.bgsRead(this.keys.streamLive(streamId), this.keys.streamContent(streamId));
    if (!r) return null;
    return { attempt: Number(r[0]), seq: Number(r[1] ?? 0), status: (r[2] || 'queued') as StreamStatus, content: r[3] };
  }
}

function defineLiveCommands(redis: Redis): Redis & LiveCommands {
  const r = redis as Redis & Partial<LiveCommands>;
  if (!r.bgsAppendFrame) {
    redis.defineCommand('bgsBeginAttempt', { numberOfKeys: 2, lua: BEGIN_ATTEMPT });
    redis.defineCommand('bgsAppendFrame', { numberOfKeys: 2, lua: APPEND_FRAME });
    redis.defineCommand('bgsFinish', { numberOfKeys: 2, lua: FINISH });
    redis.defineCommand('bgsRequestCancel', { numberOfKeys: 1, lua: REQUEST_CANCEL });
    redis.defineCommand('bgsRead', { numberOfKeys: 2, lua: READ });
  }
  return redis as Redis & LiveCommands;
}
