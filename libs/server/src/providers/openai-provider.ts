import { SseParser } from '@bgs/shared';
import { ChatTurn, Provider, ProviderError, ProviderRequest, isRetryableStatus } from './provider';

/** Where and how to reach an OpenAI-compatible server. */
export interface OpenAiProviderOptions {
  /** Includes the version prefix, e.g. `http://127.0.0.1:11434/v1`. */
  baseUrl: string;
  /** Sent as a bearer token when non-empty; local servers usually need none. */
  apiKey: string;
  /** Idle timeout: the longest wait for the next bytes (headers or body). */
  timeoutMs: number;
}

const MAX_ERROR_MESSAGE_CHARS = 500;

/** What one streamed chunk tells us. */
interface ChunkResult {
  content?: string;
  finished: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** `error.message` of an OpenAI-style error body, else `error` when it is a string. */
function errorMessageOf(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (typeof error === 'string' && error !== '') return error;
  if (isRecord(error) && typeof error.message === 'string' && error.message !== '') return error.message;
  return undefined;
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_MESSAGE_CHARS ? `${text.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : text;
}

/** Interprets one SSE data payload; throws on an in-stream error object. Malformed JSON is skipped. */
function parseChunk(data: string): ChunkResult {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return { finished: false };
  }
  if (isRecord(body) && body.error !== undefined && body.error !== null) {
    throw new ProviderError('provider_error', truncate(errorMessageOf(body) ?? 'Provider reported an error'), false);
  }
  const choice = isRecord(body) && Array.isArray(body.choices) ? (body.choices[0] as unknown) : undefined;
  if (!isRecord(choice)) return { finished: false };
  const delta = choice.delta;
  const text = isRecord(delta) ? delta.content : undefined;
  const content = typeof text === 'string' && text !== '' ? text : undefined;
  return { content, finished: typeof choice.finish_reason === 'string' };
}

/** Builds the ProviderError for a non-2xx answer from its JSON body, or its status text. */
async function httpError(response: Response, signal: AbortSignal): Promise<ProviderError> {
  let message: string | undefined;
  try {
    message = errorMessageOf(JSON.parse(await unlessAborted(response.text(), signal)));
  } catch {
    // Not JSON, or the body failed or timed out: the status line is all we have.
  }
  message ??= response.statusText || `HTTP ${response.status}`;
  const status = response.status;
  return new ProviderError(`provider_http_${status}`, truncate(message), isRetryableStatus(status));
}

/** The cause of undici's generic "fetch failed", e.g. "connect ECONNREFUSED 127.0.0.1:1". */
function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Aborts `controller` when nothing happens for `ms`; `touch()` on every sign of life. Also
 * forwards the caller's abort, so one signal drives fetch and the body read.
 */
class Watchdog {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly forwardAbort = (): void => this.controller.abort();

  constructor(
    readonly ms: number,
    private readonly callerSignal: AbortSignal,
  ) {
    callerSignal.addEventListener('abort', this.forwardAbort, { once: true });
    this.touch();
  }

  /** Stops the clock, e.g. while the consumer holds a token: a slow reader is not a slow server. */
  pause(): void {
    clearTimeout(this.timer);
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.ms);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal.removeEventListener('abort', this.forwardAbort);
  }
}

/** Maps a failed fetch or body read to a ProviderError; undefined when the caller aborted. */
function failure(
  error: unknown,
  watchdog: Watchdog,
  callerSignal: AbortSignal,
  whileReading: boolean,
): ProviderError | undefined {
  if (error instanceof ProviderError) return error;
  if (callerSignal.aborted) return undefined;
  if (watchdog.timedOut) {
    return new ProviderError('provider_timeout', `Provider sent nothing for ${watchdog.ms} ms`, true);
  }
  return whileReading
    ? new ProviderError('provider_stream_interrupted', `Provider stream broke: ${describeNetworkError(error)}`, true)
    : new ProviderError('provider_unreachable', `Provider unreachable: ${describeNetworkError(error)}`, true);
}

/**
 * `promise`, but rejected as soon as `signal` aborts. Undici (Node 20) leaves a body read pending
 * forever when the fetch is aborted after the body fully arrived, so its own abort is not enough.
 */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => undefined); // its late rejection, if any, is no longer anyone's business
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Reads the SSE body, yielding content deltas until `[DONE]`, end of stream or abort. */
async function* readCompletion(
  body: ReadableStream<Uint8Array>,
  watchdog: Watchdog,
  signal: AbortSignal,
): AsyncGenerator<string, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await unlessAborted(reader.read(), watchdog.controller.signal);
      if (signal.aborted) return;
      watchdog.touch();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      const events = done ? [...parser.push(text), ...parser.end()] : parser.push(text);
      for (const { data } of events) {
        if (data.trim() === '[DONE]') return;
        const chunk = parseChunk(data);
        finished ||= chunk.finished;
        if (chunk.content !== undefined) {
          watchdog.pause();
          yield chunk.content;
          if (signal.aborted) return;
          watchdog.touch();
        }
      }
      if (done) break;
    }
  } finally {
    // Cancel so a server that keeps the connection open after [DONE] (or on any early exit)
    // is let go; the rejection of an already errored stream is of no interest.
    reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  if (!finished) {
    throw new ProviderError('provider_stream_interrupted', 'Provider closed the stream before it finished', true);
  }
}

async function* streamCompletion(
  options: OpenAiProviderOptions,
  request: ProviderRequest,
): AsyncGenerator<string, void, undefined> {
  const { signal } = request;
  if (signal.aborted) return;
  const watchdog = new Watchdog(options.timeoutMs, signal);
  let reading = false;
  try {
    const response = await fetch(`${options.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: headersFor(options.apiKey),
      body: JSON.stringify({ model: request.model, messages: toWire(request.messages), stream: true }),
      signal: watchdog.controller.signal,
    });
    watchdog.touch();
    if (!response.ok) {
      const error = await httpError(response, watchdog.controller.signal);
      if (signal.aborted) return;
      throw error;
    }
    if (!response.body) {
      throw new ProviderError('provider_stream_interrupted', 'Provider answered without a body', true);
    }
    reading = true;
    yield* readCompletion(response.body, watchdog, signal);
  } catch (error) {
    const mapped = failure(error, watchdog, signal, reading);
    if (mapped) throw mapped;
  } finally {
    watchdog.dispose();
  }
}

/** Only the fields the API knows, should ChatTurn ever grow. */
function toWire(messages: ChatTurn[]): ChatTurn[] {
  return messages.map(({ role, content }) => ({ role, content }));
}

function headersFor(apiKey: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (apiKey !== '') headers.authorization = `Bearer ${apiKey}`;
  return headers;
}

/**
 * A provider for any OpenAI-compatible streaming `/chat/completions` endpoint (OpenAI, Ollama,
 * vLLM, llama.cpp). Failures become ProviderErrors whose `retryable` follows the HTTP status or
 * the kind of network trouble; an abort of `request.signal` just ends the stream.
 */
export function createOpenAiProvider(options: OpenAiProviderOptions): Provider {
  return {
    name: 'openai',
    stream: (request: ProviderRequest) => streamCompletion(options, request),
  };
}
