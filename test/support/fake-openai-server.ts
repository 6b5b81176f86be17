import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Received {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface FakeServer {
  baseUrl: string;
  requests: Received[];
  /** Resolves when the server sees the response closed before it ended it (client went away). */
  clientGone: Promise<void>;
}

export type Handler = (res: ServerResponse, req: IncomingMessage) => void;

const servers: Server[] = [];

/** A local OpenAI-compatible stand-in on 127.0.0.1, random port; never the internet. */
export async function startServer(handler: Handler): Promise<FakeServer> {
  const requests: Received[] = [];
  let markGone: () => void = () => undefined;
  const clientGone = new Promise<void>((resolve) => (markGone = resolve));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text ? JSON.parse(text) : undefined;
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.on('close', () => {
        if (!res.writableFinished) markGone();
      });
      handler(res, req);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests, clientGone };
}

/** Closes every server `startServer` started (the spec calls it after each test). */
export async function closeServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
}

export function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

export function delta(content: string, finishReason: string | null = null): string {
  return `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: finishReason }] })}\n\n`;
}

export const finish = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;

