import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { answerClientErrorsWithJson, clientErrorAnswer } from './client-errors';

/** Sends raw bytes and returns everything the server wrote before it closed. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => reject(new Error(`no close; got ${JSON.stringify(answer)}`)));
    socket.write(Buffer.from(request, 'latin1'));
  });
}

function parse(answer: string): { status: number; contentType: string | undefined; body: unknown } {
  const [head, body] = answer.split('\r\n\r\n');
  const [statusLine, ...headers] = head.split('\r\n');
  const contentType = headers.find((h) => /^content-type:/i.test(h))?.replace(/^content-type:\s*/i, '');
  return { status: Number(statusLine.split(' ')[1]), contentType, body: body ? JSON.parse(body) : null };
}

describe('answerClientErrorsWithJson', () => {
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    // Like the API, it reads the whole body before answering.
    server = http.createServer((req, res) => void req.resume().on('end', () => res.end('ok')));
    answerClientErrorsWithJson(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it.each([
    ['a control character in a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n'],
    ['a request line that is not HTTP', 'HELLO\r\n\r\n'],
    ['broken chunked encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
    ['both Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'],
    ['a Content-Length that is not a number', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'],
  ])('%s is a JSON 400 invalid_request, then the connection closes', async (_name, request) => {
    expect(parse(await rawExchange(port, request))).toEqual({
      status: 400,
      contentType: 'application/json; charset=utf-8',
      body: { error: { code: 'invalid_request', message: 'malformed HTTP request' } },
    });
  });

  it('headers over the size limit are a JSON 413 payload_too_large', async () => {
    const answer = parse(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(answer).toEqual({
      status: 413,
      contentType: 'application/json; charset=utf-8',
      body: { error: { code: 'payload_too_large', message: 'request headers are too large' } },
    });
  });

  it('a good request on the same server is still served', async () => {
    expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nok$/);
  });
});

describe('clientErrorAnswer', () => {
  it.each([
    ['HPE_HEADER_OVERFLOW', 413, 'payload_too_large'],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413, 'payload_too_large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 400, 'invalid_request'],
    ['HPE_INVALID_METHOD', 400, 'invalid_request'],
    [undefined, 400, 'invalid_request'],
  ])('%s → %i %s', (code, status, errorCode) => {
    const error = clientErrorAnswer(code);
    expect({ status: error.status, code: error.code }).toEqual({ status, code: errorCode });
  });
});
