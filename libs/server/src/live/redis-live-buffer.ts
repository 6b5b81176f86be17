import type { StreamPosition, StreamRef, StreamStatus, TerminalStreamStatus } from '@bgs/shared';
import type { Announcement } from '../events/stream-events';
import type { RedisClient } from '../redis/connection';
import { withLuaCommands } from '../redis/lua-commands';
import type { RedisKeys } from '../redis/keys';
import { groupBySlot } from '../redis/slots';
import type { FrameOutcome, LiveBuffer } from './live-buffer';
import APPEND_FRAMES from './lua/append-frames.lua';
import BEGIN_ATTEMPT from './lua/begin-attempt.lua';
import FINISH from './lua/finish.lua';
import READ from './lua/read.lua';
import REQUEST_CANCEL from './lua/request-cancel.lua';

type LiveCommands = {
  bgsBeginAttempt(live: string, content: string, ttl: number): Promise<[number, number]>;
  bgsAppendFrames(numberOfKeys: number, ...keysThenArgs: Array<string | Buffer>): Promise<number[]>;
  bgsFinish(live: string, content: string, status: string, seq: string, ttl: number, command: string, channel: string, message: Buffer | string): Promise<number>;
  bgsRequestCancel(live: string, ttl: number, channel: string, streamId: string): Promise<number>;
  bgsRead(live: string, content: string): Promise<[string, string, string, string] | null>;
};

interface PendingFrame {
  stream: StreamRef;
  attempt: number;
  seq: number;
  text: string;
  delta: Announcement;
  resolve: (outcome: number) => void;
  reject: (err: unknown) => void;
}

const COMMANDS = [
  { name: 'bgsBeginAttempt', numberOfKeys: 2, source: BEGIN_ATTEMPT },
  { name: 'bgsAppendFrames', source: APPEND_FRAMES },
  { name: 'bgsFinish', numberOfKeys: 2, source: FINISH },
  { name: 'bgsRequestCancel', numberOfKeys: 1, source: REQUEST_CANCEL },
  { name: 'bgsRead', numberOfKeys: 2, source: READ },
];

/**
 * The live buffer in Redis: per stream a hash (attempt, seq, status, cancel flag) and
 * the current attempt's content. Every write is one Lua script, so content, attempt and
 * seq never disagree, and a write carries its announcement's PUBLISH in the same round
 * trip. A cancel is broadcast on `keys.cancelChannel` to every worker.
 */
export class RedisLiveBuffer implements LiveBuffer {
  private readonly redis: RedisClient & LiveCommands;
  /** Frames waiting for this turn's script call. */
  private readonly tick: PendingFrame[] = [];

  constructor(
    redis: RedisClient,
    private readonly keys: RedisKeys,
    /** Keys live this long after the stream ends (it is persisted by then). */
    private readonly endedTtlSeconds: number,
    /** While a stream runs its keys live at least this long; refreshed by every attempt. */
    private readonly runningTtlSeconds = 24 * 3600,
  ) {
    this.redis = withLuaCommands<RedisClient, LiveCommands>(redis, COMMANDS);
  }

  async beginAttempt(stream: StreamRef): Promise<{ attempt: number; cancelled: boolean } | null> {
    const [attempt, cancelled] = await this.redis.bgsBeginAttempt(this.keys.streamLive(stream), this.keys.streamContent(stream), this.runningTtlSeconds);
    return attempt < 0 ? null : { attempt, cancelled: cancelled === 1 };
  }

  /**
   * Frames appended in the same turn of the event loop (the frame clock flushes every due
   * stream in one tick) leave together: one script call for all of them on one Redis, one
   * per hash slot on a cluster (a script's keys must share a slot).
   */
  async appendFrame(stream: StreamRef, attempt: number, seq: number, text: string, delta: Announcement): Promise<FrameOutcome> {
    const r = await new Promise<number>((resolve, reject) => {
      if (this.tick.length === 0) queueMicrotask(() => this.flushTick());
      this.tick.push({ stream, attempt, seq, text, delta, resolve, reject });
    });
    if (r < 0) return 'superseded';
    // r >= 2: a resent frame Redis had already applied; it was announced the first time.
    if (r < 2 && !delta.packet) await delta.send();
    return r % 2 === 1 ? 'cancel-requested' : 'appended';
  }

  private flushTick(): void {
    for (const frames of groupBySlot(this.redis, this.tick.splice(0), (f) => this.keys.streamLive(f.stream))) this.appendFrames(frames);
  }

  private appendFrames(frames: PendingFrame[]): void {
    const keys: string[] = [];
    const args: Array<string | Buffer> = [];
    for (const f of frames) {
      const packet = f.delta.packet;
      keys.push(this.keys.streamLive(f.stream), this.keys.streamContent(f.stream));
      args.push(String(f.attempt), String(f.seq), f.text, packet?.command ?? '', packet?.channel ?? '', packet?.message ?? '');
    }
    this.redis.bgsAppendFrames(keys.length, ...keys, ...args).then(
      (outcomes) => frames.forEach((f, i) => f.resolve(outcomes[i])),
      (err: unknown) => frames.forEach((f) => f.reject(err)),
    );
  }

  async finish(stream: StreamRef, status: TerminalStreamStatus, seq: number | null, ended: Announcement): Promise<boolean> {
    const { command, channel, message } = ended.packet ?? { command: '', channel: '', message: '' };
    const r = await this.redis.bgsFinish(
      this.keys.streamLive(stream), this.keys.streamContent(stream), status, seq === null ? '' : String(seq), this.endedTtlSeconds, command, channel, message,
    );
    if (r === 1 && !ended.packet) await ended.send();
    return r === 1;
  }

  async requestCancel(stream: StreamRef): Promise<void> {
    await this.redis.bgsRequestCancel(this.keys.streamLive(stream), this.runningTtlSeconds, this.keys.cancelChannel, stream.streamId);
  }

  async read(stream: StreamRef): Promise<StreamPosition | null> {
    const r = await this.redis.bgsRead(this.keys.streamLive(stream), this.keys.streamContent(stream));
    if (!r) return null;
    return { attempt: Number(r[0]), seq: Number(r[1] ?? 0), status: (r[2] || 'queued') as StreamStatus, content: r[3] };
  }
}
