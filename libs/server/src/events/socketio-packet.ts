import { decode, encode } from 'notepack.io';
import type { RedisTarget, ServerEventPayload, ServerToClientEvents } from '@bgs/shared';
import type { RedisKeys } from '../redis/keys';

/** socket.io-parser's EVENT packet type. */
const EVENT = 2;
/** The uid `@socket.io/redis-emitter` sends; adapters only skip their own uid. */
const EMITTER_UID = 'emitter';
/** `@socket.io/redis-emitter`'s request type for a server-side emit (classic adapter). */
const CLASSIC_SERVER_SIDE_EMIT = 6;
/** socket.io-adapter's ClusterAdapter message types (the sharded adapter's). */
const SHARDED_BROADCAST = 3;
const SHARDED_SERVER_SIDE_EMIT = 9;

/** One message for Redis: which command publishes it, on which channel. */
export interface RoomPacket {
  command: 'PUBLISH' | 'SPUBLISH';
  channel: string;
  message: Buffer | string;
}

/** A server-to-client event as a room broadcast carries it. */
export type RoomEvent = { [E in keyof ServerToClientEvents]: { event: E; payload: ServerEventPayload<E> } }[keyof ServerToClientEvents];

/**
 * How socket.io broadcasts travel between processes over Redis, written by hand so a Lua
 * script can publish a room event in the same round trip as the write it belongs to:
 * - `pubsub`: what `@socket.io/redis-adapter`'s classic adapter reads (PUBLISH): the
 *   message `@socket.io/redis-emitter` sends, in JSON instead of msgpack; the adapter is
 *   given `adapterParser`, which reads both (`socketio-packet.spec.ts` compares them);
 * - `sharded`: what its sharded adapter (`createShardedAdapter`, Redis 7) reads: SPUBLISH
 *   on the room's own channel, whose slot is the room's hash tag on Redis Cluster; it
 *   reads JSON by itself.
 * A room's channel is `${socketIoKey}#/#${room}#` in both. JSON because what a room event
 * carries is JSON already (socket.io sends it to clients as JSON), and because a string
 * keeps ioredis on its string path: a Buffer argument makes it copy every argument of the
 * tick's script call piece by piece (measured: 10 µs more worker CPU per frame).
 */
export interface RoomWire {
  readonly kind: 'pubsub' | 'sharded';
  roomEvent<E extends keyof ServerToClientEvents>(room: string, event: E, payload: ServerEventPayload<E>): RoomPacket;
  /** A server-side emit (`io.on(event)` on every API instance) with one argument. */
  serverSideEmit(event: string, arg: unknown): RoomPacket;
  /** The channel of a room's broadcasts, to follow a room from outside socket.io. */
  roomChannel(room: string): string;
  /** Reads back a room event published on a room's channel; null for anything else. */
  decode(message: Buffer): RoomEvent | null;
}

/** The classic adapter's parser: JSON (ours) or msgpack (its own and the emitter's), told apart by the first byte. */
export const adapterParser = {
  encode: (value: unknown): Buffer => encode(value),
  decode: (message: Buffer): unknown => (isJson(message) ? JSON.parse(message.toString()) : decode(message)),
};

/** A JSON array or object; msgpack starts neither of them with '[' or '{'. */
const isJson = (message: Buffer) => message[0] === 0x5b || message[0] === 0x7b;

/** The channel of a room's broadcasts, the same for both adapters. */
const roomChannelOf = (socketIoKey: string) => (room: string) => `${socketIoKey}#/#${room}#`;

export function pubSubRoomWire(socketIoKey: string): RoomWire {
  const roomChannel = roomChannelOf(socketIoKey);
  return {
    kind: 'pubsub',
    roomEvent: (room, event, payload) => ({
      command: 'PUBLISH',
      channel: roomChannel(room),
      message: JSON.stringify([EMITTER_UID, { type: EVENT, data: [event, payload], nsp: '/' }, { rooms: [room], flags: {}, except: [] }]),
    }),
    serverSideEmit: (event, arg) => ({
      command: 'PUBLISH',
      channel: `${socketIoKey}-request#/#`,
      message: JSON.stringify({ uid: EMITTER_UID, type: CLASSIC_SERVER_SIDE_EMIT, data: [event, arg] }),
    }),
    roomChannel,
    decode: (message) => {
      const decoded = adapterParser.decode(message);
      return Array.isArray(decoded) ? eventOf(decoded[1]) : null;
    },
  };
}

export function shardedRoomWire(socketIoKey: string): RoomWire {
  const roomChannel = roomChannelOf(socketIoKey);
  return {
    kind: 'sharded',
    roomEvent: (room, event, payload) => ({
      command: 'SPUBLISH',
      channel: roomChannel(room),
      message: JSON.stringify({
        uid: EMITTER_UID, nsp: '/', type: SHARDED_BROADCAST,
        data: { packet: { type: EVENT, data: [event, payload], nsp: '/' }, opts: { rooms: [room], except: [], flags: {} } },
      }),
    }),
    serverSideEmit: (event, arg) => ({
      command: 'SPUBLISH',
      channel: `${socketIoKey}#/#`,
      message: JSON.stringify({ uid: EMITTER_UID, nsp: '/', type: SHARDED_SERVER_SIDE_EMIT, data: { packet: [event, arg] } }),
    }),
    roomChannel,
    decode: (message) => {
      // The adapter itself sends JSON when nothing is binary, msgpack otherwise.
      const decoded = adapterParser.decode(message) as { type?: number; data?: { packet?: unknown } };
      return decoded?.type === SHARDED_BROADCAST ? eventOf(decoded.data?.packet) : null;
    },
  };
}

function eventOf(packet: unknown): RoomEvent | null {
  const p = packet as { type?: number; data?: unknown[] } | undefined;
  if (p?.type !== EVENT || !Array.isArray(p.data) || typeof p.data[0] !== 'string') return null;
  return { event: p.data[0], payload: p.data[1] } as RoomEvent;
}

/** What it takes to send a packet: a Redis connection (one server or a cluster). */
export interface PacketPublisher {
  publish(channel: string, message: Buffer | string): Promise<unknown>;
  spublish(channel: string, message: Buffer | string): Promise<unknown>;
}

export function sendPacket(publisher: PacketPublisher, packet: RoomPacket): Promise<unknown> {
  return packet.command === 'SPUBLISH' ? publisher.spublish(packet.channel, packet.message) : publisher.publish(packet.channel, packet.message);
}

/** Sharded pub/sub on Redis Cluster (a room's messages go to its slot's shard only); classic pub/sub on one server. */
export function roomWireFor(target: RedisTarget, keys: Pick<RedisKeys, 'socketIoKey'>): RoomWire {
  return target.kind === 'cluster' ? shardedRoomWire(keys.socketIoKey) : pubSubRoomWire(keys.socketIoKey);
}
