import { closeServers, delta, finish, sseHead, startServer } from '../../../../test/support/fake-openai-server';
import { createOpenAiProvider } from './openai-provider';
import { ProviderError, ProviderRequest } from './provider';

afterEach(closeServers);

function request(signal: AbortSignal = new AbortController().signal): ProviderRequest {
  return {
    model: 'test-model',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ],
    attempt: 1,
    signal,
  };
}

function provider(baseUrl: string, overrides: { apiKey?: string; timeoutMs?: number } = {}) {
  return createOpenAiProvider({ baseUrl, apiKey: overrides.apiKey ?? '', timeoutMs: overrides.timeoutMs ?? 5_000 });
}

/** Runs the stream to the end: the tokens and the error it threw, if any. */
async function run(iterable: AsyncIterable<string>): Promise<{ tokens: string[]; error?: unknown }> {
  const tokens: string[] = [];
  try {
    for await (const token of iterable) tokens.push(token);
    return { tokens };
  } catch (error) {
    return { tokens, error };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('createOpenAiProvider', () => {
  it('is named openai', () => {
    expect(provider('http://127.0.0.1:1/v1').name).toBe('openai');
  });

  it('streams content deltas across awkward chunk boundaries and stops at [DONE]', async () => {
    const body =
      ': comment from the server\r\n\r\n' +
      `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant' } }] })}\r\n\r\n` +
      delta('Hel') +
      delta('') +
      // One JSON object spread over two data lines.
      'data: {"choices":[{"index":0,\ndata: "delta":{"content":"lo"},"finish_reason":null}]}\n\n' +
      delta(' wörld') +
      finish +
      'data: [DONE]\n\n';
    const cut = body.indexOf('Hel') - 5; // in the middle of a JSON line
    const server = await startServer((res) => {
      sseHead(res);
      res.write(body.slice(0, cut));
      setTimeout(() => res.write(body.slice(cut)), 20);
      // Keeps the connection open after [DONE]: the client must let go by itself.
    });
    const result = await run(provider(server.baseUrl).stream(request()));
    expect(result).toEqual({ tokens: ['Hel', 'lo', ' wörld'] });
    await server.clientGone;
  });

  it('survives a multi-byte character split across chunks', async () => {
    const bytes = Buffer.from(delta('€uro') + finish + 'data: [DONE]\n\n', 'utf8');
    const euro = bytes.indexOf(Buffer.from('€'));
    const server = await startServer((res) => {
      sseHead(res);
      res.write(bytes.subarray(0, euro + 1));
      setTimeout(() => res.end(bytes.subarray(euro + 1)), 20);
    });
    expect(await run(provider(server.baseUrl).stream(request()))).toEqual({ tokens: ['€uro'] });
  });

  it('posts model, messages and stream:true to /chat/completions without auth when there is no key', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.end(delta('ok') + finish + 'data: [DONE]\n\n');
    });
    await run(provider(server.baseUrl).stream(request()));
    const [received] = server.requests;
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/v1/chat/completions');
    expect(received.headers['content-type']).toBe('application/json');
    expect(received.headers.authorization).toBeUndefined();
    expect(received.body).toEqual({ model: 'test-model', messages: request().messages, stream: true });
  });

  it('sends a bearer token when an apiKey is configured', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.end('data: [DONE]\n\n');
    });
    await run(provider(server.baseUrl, { apiKey: 'sk-test' }).stream(request()));
    expect(server.requests[0].headers.authorization).toBe('Bearer sk-test');
  });

  it('maps 400 to a non-retryable error carrying the body error message', async () => {
    const server = await startServer((res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'model "x" not found', type: 'invalid_request_error' } }));
    });
    const { tokens, error } = await run(provider(server.baseUrl).stream(request()));
    expect(tokens).toEqual([]);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'provider_http_400', retryable: false, message: 'model "x" not found' });
  });

  it.each([429, 503])('maps %i to a retryable error', async (status) => {
    const server = await startServer((res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'slow down' } }));
    });
    const { error } = await run(provider(server.baseUrl).stream(request()));
    expect(error).toMatchObject({ code: `provider_http_${status}`, retryable: true, message: 'slow down' });
  });

  it('falls back to the status text when the error body is not JSON', async () => {
    const server = await startServer((res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Traceback (most recent call last): ...</html>');
    });
    const { error } = await run(provider(server.baseUrl).stream(request()));
    expect(error).toMatchObject({ code: 'provider_http_502', retryable: true, message: 'Bad Gateway' });
  });

  it('still reports the status when an error body never completes', async () => {
    const server = await startServer((res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.write('{"error":');
    });
    const { error } = await run(provider(server.baseUrl, { timeoutMs: 100 }).stream(request()));
    expect(error).toMatchObject({ code: 'provider_http_500', retryable: true, message: 'Internal Server Error' });
  });

  it('reports an unreachable server as retryable', async () => {
    const server = await startServer(() => undefined);
    await closeServers();
    const { error } = await run(provider(server.baseUrl).stream(request()));
    expect(error).toMatchObject({ code: 'provider_unreachable', retryable: true });
  });

  it('times out as retryable when the stream goes idle, keeping the tokens already sent', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.write(delta('first'));
    });
    const started = Date.now();
    const { tokens, error } = await run(provider(server.baseUrl, { timeoutMs: 150 }).stream(request()));
    expect(tokens).toEqual(['first']);
    expect(error).toMatchObject({ code: 'provider_timeout', retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await server.clientGone;
  });

  it('times out when no response headers arrive', async () => {
    const server = await startServer(() => undefined);
    const { error } = await run(provider(server.baseUrl, { timeoutMs: 100 }).stream(request()));
    expect(error).toMatchObject({ code: 'provider_timeout', retryable: true });
  });

  it('resets the idle timeout on every chunk', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      const parts = [delta('a'), delta('b'), delta('c'), finish + 'data: [DONE]\n\n'];
      const timer = setInterval(() => {
        res.write(parts.shift());
        if (parts.length === 0) clearInterval(timer);
      }, 60);
      res.on('close', () => clearInterval(timer));
    });
    const result = await run(provider(server.baseUrl, { timeoutMs: 120 }).stream(request()));
    expect(result).toEqual({ tokens: ['a', 'b', 'c'] });
  });

  it('does not count a slow consumer as an idle server', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.write(delta('a'));
      setTimeout(() => res.end(delta('b') + finish + 'data: [DONE]\n\n'), 20);
    });
    const tokens: string[] = [];
    for await (const token of provider(server.baseUrl, { timeoutMs: 100 }).stream(request())) {
      tokens.push(token);
      await delay(250);
    }
    expect(tokens).toEqual(['a', 'b']);
  });

  it('reports a stream closed before [DONE] without a finish_reason as interrupted', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.end(delta('partial'));
    });
    const { tokens, error } = await run(provider(server.baseUrl).stream(request()));
    expect(tokens).toEqual(['partial']);
    expect(error).toMatchObject({ code: 'provider_stream_interrupted', retryable: true });
  });

  it('reports a connection torn down mid-stream as interrupted', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.write(delta('partial'));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const { tokens, error } = await run(provider(server.baseUrl).stream(request()));
    expect(tokens).toEqual(['partial']);
    expect(error).toMatchObject({ code: 'provider_stream_interrupted', retryable: true });
  });

  it('accepts a stream that ends after a finish_reason without [DONE]', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.end(delta('all') + delta(' done', 'stop'));
    });
    expect(await run(provider(server.baseUrl).stream(request()))).toEqual({ tokens: ['all', ' done'] });
  });

  it('turns an error payload inside the stream into a non-retryable provider_error', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.write(delta('so far'));
      res.write(`data: ${JSON.stringify({ error: { message: 'context length exceeded' } })}\n\n`);
    });
    const { tokens, error } = await run(provider(server.baseUrl).stream(request()));
    expect(tokens).toEqual(['so far']);
    expect(error).toMatchObject({ code: 'provider_error', retryable: false, message: 'context length exceeded' });
    await server.clientGone;
  });

  it('ends promptly without an error when aborted mid-stream, and closes the connection', async () => {
    const server = await startServer((res) => {
      sseHead(res);
      res.write(delta('one'));
      // Never ends: only the client can close this.
    });
    const controller = new AbortController();
    const tokens: string[] = [];
    let abortedAt = 0;
    const iteration = (async () => {
      for await (const token of provider(server.baseUrl).stream(request(controller.signal))) tokens.push(token);
    })();
    while (tokens.length === 0) await delay(5);
    abortedAt = Date.now();
    controller.abort();
    await expect(iteration).resolves.toBeUndefined();
    expect(Date.now() - abortedAt).toBeLessThan(500);
    expect(tokens).toEqual(['one']);
    await server.clientGone;
  });

  it('ends without an error when aborted while waiting for response headers', async () => {
    const server = await startServer(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    expect(await run(provider(server.baseUrl).stream(request(controller.signal)))).toEqual({ tokens: [] });
  });

  it('sends no request when the signal is already aborted', async () => {
    const server = await startServer((res) => res.end());
    const controller = new AbortController();
    controller.abort();
    expect(await run(provider(server.baseUrl).stream(request(controller.signal)))).toEqual({ tokens: [] });
    expect(server.requests).toEqual([]);
  });
});
