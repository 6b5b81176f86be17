import { createServer } from 'node:http';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import { decode } from 'notepack.io';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { EVENTS, rooms, type StreamDeltaEvent } from '@bgs/shared';
import { redisKeys } from '../redis/keys';
import { adapterParser, pubSubRoomWire, shardedRoomWire, type RoomPacket } from './socketio-packet';

const encodeRoomEvent = (socketIoKey: string, ...rest: Parameters<ReturnType<typeof pubSubRoomWire>['roomEvent']>) => pubSubRoomWire(socketIoKey).roomEvent(...rest);

/**
 * `roomEvent`'s types only let callers pass an event's own payload; the message itself
 * must say what the emitter's says for any payload, so most cases call it through an untyped view.
 */
const encodeAny = encodeRoomEvent as unknown as (socketIoKey: string, room: string, event: string, payload: unknown) => RoomPacket;

/** What the emitter hands to `redisClient.publish(channel, message)`: it calls nothing else on a plain emit. */
interface Published {
  channel: string;
  message: unknown;
}

/** A stand-in for a redis client that records every PUBLISH instead of sending it. */
function recordingClient() {
  const published: Published[] = [];
  return {
    published,
    publish(channel: string, message: unknown) {
      published.push({ channel, message });
      return Promise.resolve(0);
    },
  };
}

/** Emits through a real `@socket.io/redis-emitter` Emitter and returns the one PUBLISH it made. */
function emitterPublish(key: string | undefined, room: string, event: string, payload: unknown): Published {
  const client = recordingClient();
  const emitter = new Emitter(client, key === undefined ? undefined : { key });
  emitter.to(room).emit(event, payload);
  expect(client.published).toHaveLength(1);
  return client.published[0]!;
}

const key = redisKeys('bgs').socketIoKey;
const threadRoom = rooms.thread('c0ffee00-0000-4000-8000-000000000001');
const userRoom = rooms.user('u-42');

const cases: Array<[string, string, string, unknown]> = [
  ['a string payload', threadRoom, EVENTS.streamDelta, 'hello, world'],
  ['an empty string payload', threadRoom, EVENTS.streamDelta, ''],
  [
    'an object with unicode text',
    threadRoom,
    EVENTS.streamDelta,
    { streamId: 's-1', seq: 7, text: 'héllo wörld — 你好，世界 🙂👍🏽 \u202ertl\u202c \u0000 end' },
  ],
  [
    'nested objects and arrays',
    threadRoom,
    EVENTS.streamCompleted,
    {
      streamId: 's-1',
      threadId: 't-1',
      attempt: 2,
      message: {
        id: 'm-1',
        role: 'assistant',
        content: 'done',
        meta: { tokens: { prompt: 12, completion: 345 }, tags: ['a', 'b', { deep: [1, [2, [3]]] }] },
        createdAt: '2024-01-02T03:04:05.678Z',
      },
      error: null,
      retried: false,
      final: true,
    },
  ],
  [
    'numbers of every msgpack width',
    userRoom,
    EVENTS.notificationCreated,
    {
      zero: 0,
      fixint: 127,
      uint8: 200,
      uint16: 65_535,
      uint32: 4_294_967_295,
      uint64: 2 ** 40,
      negFixint: -32,
      int8: -128,
      int16: -32_768,
      int32: -2_147_483_648,
      int64: -(2 ** 40),
      float: 1.5,
      negFloat: -0.1,
      maxSafe: Number.MAX_SAFE_INTEGER,
      list: [0, 1, -1, 3.14159, 1e15],
    },
  ],
  ['a bare number payload', userRoom, EVENTS.streamReset, 42],
  ['a long string (str16)', threadRoom, EVENTS.streamDelta, 'ü'.repeat(300)],
  ['a very long string (str32)', threadRoom, EVENTS.streamDelta, { text: 'x'.repeat(70_000) }],
  [
    'a long array (array16) and a big map (map16)',
    threadRoom,
    EVENTS.streamDelta,
    {
      items: Array.from({ length: 20 }, (_, i) => i * 1000),
      map: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, `v${i}`])),
    },
  ],
  ['a room name with unicode', 'thread:ünïcødé-房间', EVENTS.streamStarted, { streamId: 's', attempt: 1 }],
];

/**
 * A classic `createAdapter` adapter with our parser, through stand-in clients: what it
 * does with a message Redis delivers on a channel it pattern-subscribed to.
 */
function classicServer() {
  let onMessage: (pattern: Buffer, channel: Buffer, message: Buffer) => void = () => undefined;
  const patterns: string[] = [];
  const subClient = {
    psubscribe: (pattern: string) => void patterns.push(pattern),
    subscribe: () => undefined,
    on: (event: string, listener: typeof onMessage) => void (event === 'pmessageBuffer' && (onMessage = listener)),
  };
  const pubClient = { publish: () => Promise.resolve(1), on: () => undefined };
  const io = new Server(createServer(), { adapter: createAdapter(pubClient, subClient, { key, parser: adapterParser }) });
  /** Delivers what Redis would: the message, if its channel matches the adapter's pattern. */
  const deliver = (channel: string, message: Buffer | string) => {
    const pattern = patterns.find((p) => p.endsWith('*') && channel.startsWith(p.slice(0, -1)));
    if (!pattern) return false;
    onMessage(Buffer.from(pattern), Buffer.from(channel), Buffer.from(message));
    return true;
  };
  return { io, deliver };
}

describe('the pub/sub wire (one Redis)', () => {
  afterEach(() => jest.restoreAllMocks());

  it.each(cases)("publishes %s as @socket.io/redis-emitter's message, in JSON", (_name, room, event, payload) => {
    const theirs = emitterPublish(key, room, event, payload);
    const ours = encodeAny(key, room, event, payload);

    expect(ours.channel).toBe(theirs.channel);
    // A string, not a Buffer: ioredis then writes the tick's script call as one string.
    expect(typeof ours.message).toBe('string');
    expect(JSON.parse(ours.message as string)).toStrictEqual(decode(theirs.message as Buffer));
  });

  it.each(cases)('has the adapter broadcast %s to the room', async (_name, room, event, payload) => {
    const { io, deliver } = classicServer();
    const broadcast = jest.spyOn(Adapter.prototype, 'broadcast').mockImplementation(() => undefined);
    await io.of('/').adapter.addAll('socket-id-of-20-chars', new Set([room]));
    const ours = encodeAny(key, room, event, payload);

    expect(deliver(ours.channel, ours.message)).toBe(true);
    expect(broadcast).toHaveBeenCalledTimes(1);
    const [sent, opts] = broadcast.mock.calls[0]!;
    expect(sent).toStrictEqual({ type: 2, data: [event, payload], nsp: '/' });
    expect([...opts.rooms]).toEqual([room]);
    expect([...(opts.except ?? [])]).toEqual([]);
    expect(pubSubRoomWire(key).decode(Buffer.from(ours.message))).toEqual({ event, payload });
    io.close();
  });

  it("still reads the emitter's own msgpack messages, and skips rooms it does not hold", async () => {
    const { io, deliver } = classicServer();
    const broadcast = jest.spyOn(Adapter.prototype, 'broadcast').mockImplementation(() => undefined);
    await io.of('/').adapter.addAll('socket-id-of-20-chars', new Set([threadRoom]));
    const theirs = emitterPublish(key, threadRoom, EVENTS.streamDelta, { text: 'from an emitter' });
    const elsewhere = encodeAny(key, userRoom, EVENTS.streamDelta, { text: 'not here' });

    expect(deliver(theirs.channel, theirs.message as Buffer)).toBe(true);
    expect(deliver(elsewhere.channel, elsewhere.message)).toBe(true);
    expect(broadcast).toHaveBeenCalledTimes(1);
    expect(broadcast.mock.calls[0]![0]).toEqual({ type: 2, data: [EVENTS.streamDelta, { text: 'from an emitter' }], nsp: '/' });
    expect(pubSubRoomWire(key).decode(theirs.message as Buffer)).toEqual({ event: EVENTS.streamDelta, payload: { text: 'from an emitter' } });
    io.close();
  });

  it('matches the emitter for a typed stream.delta, as the worker sends it', () => {
    const delta: StreamDeltaEvent = { streamId: 's-1', threadId: 't-1', attempt: 1, seq: 3, text: 'Grüße 👋', at: 1_700_000_000_123 };
    const theirs = emitterPublish(key, threadRoom, EVENTS.streamDelta, delta);
    const ours = encodeRoomEvent(key, threadRoom, EVENTS.streamDelta, delta);
    expect(ours.channel).toBe(theirs.channel);
    expect(ours.command).toBe('PUBLISH');
    expect(JSON.parse(ours.message as string)).toStrictEqual(decode(theirs.message as Buffer));
  });

  it("matches the emitter's default key too", () => {
    const theirs = emitterPublish(undefined, threadRoom, EVENTS.streamDelta, { text: 'ok' });
    const ours = encodeAny('socket.io', threadRoom, EVENTS.streamDelta, { text: 'ok' });
    expect(ours.channel).toBe('socket.io#/#' + threadRoom + '#');
    expect(ours.channel).toBe(theirs.channel);
  });

  it('uses the room channel the redis adapter subscribes to', () => {
    expect(encodeAny(key, threadRoom, EVENTS.streamDelta, 'x').channel).toBe(`bgs:socket.io#/#${threadRoom}#`);
  });

  it('differs when the payload differs (the comparison is not vacuous)', () => {
    const a = encodeAny(key, threadRoom, EVENTS.streamDelta, { seq: 1 });
    const b = encodeAny(key, threadRoom, EVENTS.streamDelta, { seq: 2 });
    expect(a.message).not.toEqual(b.message);
    expect(JSON.parse(a.message as string)).not.toEqual(decode(emitterPublish(key, threadRoom, EVENTS.streamDelta, { seq: 2 }).message as Buffer));
  });

  it('sends a server-side emit exactly as the emitter does', () => {
    const client = recordingClient();
    new Emitter(client, { key }).serverSideEmit('thread.deleted', 't-1');
    const ours = pubSubRoomWire(key).serverSideEmit('thread.deleted', 't-1');
    expect(ours).toEqual({ command: 'PUBLISH', channel: client.published[0]!.channel, message: client.published[0]!.message });
  });
});

/**
 * The sharded adapter has no emitter to compare bytes with: feed our messages to a real
 * `createShardedAdapter` adapter, through stand-in clients, and see what it does with them.
 */
describe('the sharded wire (Redis Cluster)', () => {
  const wire = shardedRoomWire(key);

  function shardedServer() {
    const handlers = new Map<string, (message: Buffer, channel: Buffer) => void>();
    let onMessage: (channel: Buffer, message: Buffer) => void = () => undefined;
    const subClient = {
      ssubscribe: (channel: string) => void handlers.set(channel, (m, c) => onMessage(c, m)),
      sunsubscribe: (channel: string) => void handlers.delete(channel),
      on: (event: string, listener: typeof onMessage) => void (event === 'smessageBuffer' && (onMessage = listener)),
    };
    const pubClient = { spublish: () => Promise.resolve(1) };
    const io = new Server(createServer(), { adapter: createShardedAdapter(pubClient, subClient, { channelPrefix: key, subscriptionMode: 'dynamic' }) });
    /** Delivers what Redis would: the message on its channel, if the adapter subscribed to it. */
    const deliver = (packet: RoomPacket) => {
      const handler = handlers.get(packet.channel);
      if (!handler) return false;
      handler(Buffer.from(packet.message), Buffer.from(packet.channel));
      return true;
    };
    return { io, deliver, channels: () => [...handlers.keys()] };
  }

  afterEach(() => jest.restoreAllMocks());

  it.each(cases)('broadcasts %s to the room, on the room channel the adapter subscribed to', async (_name, room, event, payload) => {
    const { io, deliver, channels } = shardedServer();
    const broadcast = jest.spyOn(Adapter.prototype, 'broadcast').mockImplementation(() => undefined);
    // A room exists on an instance once a socket joins it; the adapter then subscribes to its channel.
    await io.of('/').adapter.addAll('socket-id-of-20-chars', new Set([room]));
    const packet = (wire.roomEvent as unknown as (r: string, e: string, p: unknown) => RoomPacket)(room, event, payload);

    expect(packet.command).toBe('SPUBLISH');
    expect(channels()).toContain(packet.channel);
    expect(deliver(packet)).toBe(true);
    expect(broadcast).toHaveBeenCalledTimes(1);
    const [sent, opts] = broadcast.mock.calls[0]!;
    expect(sent).toEqual({ type: 2, data: [event, payload], nsp: '/' });
    expect([...opts.rooms]).toEqual([room]);
    expect(wire.decode(Buffer.from(packet.message))).toEqual({ event, payload });
    io.close();
  });

  it('runs a server-side emit on every instance', () => {
    const { io, deliver } = shardedServer();
    const heard: unknown[] = [];
    io.on('thread.deleted', (threadId: unknown) => heard.push(threadId));
    expect(deliver(wire.serverSideEmit('thread.deleted', 't-9'))).toBe(true);
    expect(heard).toEqual(['t-9']);
    io.close();
  });

  it("puts a thread room's channel in the slot of the thread's stream keys", () => {
    const keys = redisKeys('bgs');
    const channel = wire.roomEvent(rooms.thread('t-7'), EVENTS.streamReset, { streamId: 's', threadId: 't-7', attempt: 2 }).channel;
    expect(channel).toBe('bgs:socket.io#/#thread:{t-7}#');
    expect(keys.streamLive({ streamId: 's', threadId: 't-7' })).toContain('{t-7}');
  });
});
