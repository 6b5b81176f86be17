import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '@bgs/shared';

/** The error (docs/protocol.md#errors) for a request Node's HTTP parser refused (by Node's error code). */
export function clientErrorAnswer(code: string | undefined): ApiError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError('payload_too_large', 'request headers are too large');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError('payload_too_large', 'chunk extensions are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError('invalid_request', 'the request was not received in time');
    default:
      return new ApiError('invalid_request', 'malformed HTTP request');
  }
}

/**
 * Requests that Node's HTTP parser refuses (bad bytes in a header, oversized headers,
 * broken chunked encoding, conflicting lengths) never reach express, and Node answers
 * them with an empty 400 or 431. Answer them with the JSON error of docs/protocol.md#errors instead,
 * then close the connection: the parser cannot tell where the next request starts.
 */
export function answerClientErrorsWithJson(server: Server): void {
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    // Node's own rule: once a response has started on this connection, only closing is safe.
    const response = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
      socket.destroy();
      return;
    }
    const error = clientErrorAnswer(err.code);
    const body = JSON.stringify(error.toBody());
    socket.end(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
