import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * Makes the writes of one turn of the event loop leave as one: the first write of a turn
 * corks the socket, and the socket is uncorked once the turn's synchronous work is done.
 *
 * Why: socket.io writes each packet of a broadcast as a WebSocket frame of its own, and
 * Node sends each frame with its own `writev` (ws corks a frame's header and body, nothing
 * more). A client following ten threads gets a tick's frames as ten packets, ten system
 * calls, and wakes ten times to read them. The frames of one Redis read arrive in one
 * turn, so corking per turn sends them in one call and the client reads them at once.
 */
export function corkEachTurn(socket: Duplex): void {
  const write = socket.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Duplex, ...args: Parameters<Duplex['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Duplex['write'];
}

/**
 * The WebSocket server engine.io runs on (its `wsEngine` option): `ws`'s own, with every
 * upgraded socket writing once per turn (`corkEachTurn`).
 */
export class CorkingWebSocketServer extends WebSocketServer {
  override handleUpgrade(request: IncomingMessage, socket: Duplex, upgradeHead: Buffer, callback: (client: WebSocket, request: IncomingMessage) => void): void {
    corkEachTurn(socket);
    super.handleUpgrade(request, socket, upgradeHead, callback);
  }
}
