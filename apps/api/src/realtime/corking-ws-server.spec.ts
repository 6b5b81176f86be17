import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { WebSocketServer, type ServerOptions } from 'ws';
import { corkEachTurn, CorkingWebSocketServer } from './corking-ws-server';

/** A socket that records each write it is asked to make: one entry per write system call it would be. */
function recordingSocket() {
  const writes: string[][] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => String(c.chunk)));
      done();
    },
  });
  return { socket, writes };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('corkEachTurn', () => {
  it('sends the writes of one turn as one write, in order', async () => {
    const { socket, writes } = recordingSocket();
    corkEachTurn(socket);
    socket.write('a');
    socket.write('b');
    socket.write('c');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('corks again on the next turn, and leaves a turn without writes alone', async () => {
    const { socket, writes } = recordingSocket();
    corkEachTurn(socket);
    socket.write('1');
    await nextTurn();
    await nextTurn();
    socket.write('2');
    socket.write('3');
    await nextTurn();
    expect(writes).toEqual([['1'], ['2', '3']]);
    expect(socket.writableCorked).toBe(0);
  });

  it('still calls each write callback, and ends with what was written', async () => {
    const { socket, writes } = recordingSocket();
    corkEachTurn(socket);
    const done: string[] = [];
    socket.write('x', () => done.push('x'));
    socket.end('y', () => done.push('end'));
    await nextTurn();
    expect(writes.flat()).toEqual(['x', 'y']);
    expect(done).toEqual(['x', 'end']);
  });
});

/**
 * A real socket.io server and client: a broadcast burst (what one Redis read delivers)
 * reaches the client whole, in order, and leaves the server in a few writes, not one per packet.
 */
describe('socket.io on the corking engine', () => {
  let http: HttpServer;
  let io: Server;
  let client: ClientSocket;
  const serverWrites = { count: 0 };

  type Engine = new (options?: ServerOptions) => WebSocketServer;

  /** Counts the writes of the server side of every upgraded socket. */
  function counting(Base: Engine): Engine {
    return class extends (Base as unknown as typeof WebSocketServer) {
      override handleUpgrade(...args: Parameters<WebSocketServer['handleUpgrade']>) {
        const raw = args[1] as Duplex & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
        const write = raw._write.bind(raw);
        const writev = raw._writev?.bind(raw);
        raw._write = (...a: unknown[]) => (serverWrites.count++, write(...a));
        if (writev) raw._writev = (...a: unknown[]) => (serverWrites.count++, writev(...a));
        super.handleUpgrade(...args);
      }
    };
  }

  async function start(engine: Engine): Promise<void> {
    http = createServer();
    io = new Server(http, { wsEngine: counting(engine) });
    io.on('connection', (socket) => void socket.join('thread:t-1'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    client = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('connect_error', reject);
    });
    await nextTurn();
  }

  afterEach(async () => {
    client?.disconnect();
    await new Promise((resolve) => io.close(resolve));
  });

  /** Broadcasts `n` frames in one turn; resolves with what the client received and the server's writes meanwhile. */
  async function burst(n: number): Promise<{ received: number[]; writes: number }> {
    const received: number[] = [];
    const all = new Promise<void>((resolve) => client.on('stream.delta', (e: { seq: number }) => received.push(e.seq) === n && resolve()));
    serverWrites.count = 0;
    for (let seq = 1; seq <= n; seq++) io.to('thread:t-1').emit('stream.delta', { seq });
    await all;
    return { received, writes: serverWrites.count };
  }

  it('sends a burst of 50 broadcasts in at most 3 writes, every frame received in order', async () => {
    await start(CorkingWebSocketServer);
    const { received, writes } = await burst(50);
    expect(received).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(writes).toBeLessThanOrEqual(3);
  });

  it('(the count is not vacuous) ws alone writes each broadcast on its own', async () => {
    await start(WebSocketServer);
    const { received, writes } = await burst(50);
    expect(received).toHaveLength(50);
    expect(writes).toBeGreaterThanOrEqual(49);
  });
});
