import { decode, encode } from 'notepack.io';
import type { ServerEventPayload, ServerToClientEvents } from '@bgs/shared';

/** socket.io-parser's EVENT packet type. */
const EVENT = 2;
/** The uid `@socket.io/redis-emitter` sends; adapters only skip their own uid. */
const EMITTER_UID = 'emitter';

export interface RoomPacket {
  channel: string;
  message: Buffer;
}

/**
 * Encodes "emit `event` to `room`" exactly as `@socket.io/redis-emitter` publishes it,
 * so a Lua script can PUBLISH it in the same round trip as the write it belongs to.
 * `socketio-packet.spec.ts` compares the bytes with the emitter's own.
 */
export function encodeRoomEvent<E extends keyof ServerToClientEvents>(socketIoKey: string, room: string, event: E, payload: ServerEventPayload<E>): RoomPacket {
  const packet = { type: EVENT, data: [event, payload], nsp: '/' };
  const opts = { rooms: [room], flags: {}, except: [] };
  return { channel: `${socketIoKey}#/#${room}#`, message: encode([EMITTER_UID, packet, opts]) };
}

/** A server-to-client event as a room broadcast carries it. */
export type RoomEvent = { [E in keyof ServerToClientEvents]: { event: E; payload: ServerEventPayload<E> } }[keyof ServerToClientEvents];

/** Reads back what `encodeRoomEvent` (or the emitter) published; null for anything else. */
export function decodeRoomEvent(message: Buffer): RoomEvent | null {
  const decoded = decode(message) as unknown;
  if (!Array.isArray(decoded)) return null;
  const packet = decoded[1] as { type?: number; data?: unknown[] } | undefined;
  if (packet?.type !== EVENT || !Array.isArray(packet.data) || typeof packet.data[0] !== 'string') return null;
  return { event: packet.data[0], payload: packet.data[1] } as RoomEvent;
}
