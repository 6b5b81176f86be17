import { encode } from 'notepack.io';
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
