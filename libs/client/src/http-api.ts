import type {
  Capabilities,
  ErrorBody,
  Message,
  Notification,
  Page,
  SendMessageResult,
  StreamState,
  Thread,
} from '@bgs/shared/browser';
import { Tokens, type TokenSource } from './tokens';

/** An error answer of the API (its stable `code`), or `network` when no answer came. */
export class ChatApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    readonly details?: unknown,
    /** Seconds, from `Retry-After` on 429 and 503. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ChatApiError';
  }
}

/** Where the API is and whose token to send. */
export interface HttpApiOptions {
  baseUrl: string;
  token: TokenSource | Tokens;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;

/** Reads the JSON error body (docs/protocol.md#errors) into a `ChatApiError`. */
export async function errorFromResponse(res: Response): Promise<ChatApiError> {
  const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await res.json()) as Partial<ErrorBody>;
  } catch {
    /* not JSON: fall back to the status line */
  }
  const e = body?.error;
  return new ChatApiError(e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, res.status, e?.details, Number.isFinite(retryAfter) ? retryAfter : undefined);
}

/**
 * The REST half of docs/protocol.md#rest-routes: bearer auth, JSON in and out, errors as `ChatApiError`.
 * Counts requests in flight so a test (or a UI spinner) can read them.
 */
export class HttpApi {
  private inFlight = 0;
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  readonly tokens: Tokens;

  constructor(options: HttpApiOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.tokens = options.token instanceof Tokens ? options.token : new Tokens(options.token);
    // Called unbound, browsers refuse `fetch` ("Illegal invocation").
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Requests in flight, SSE responses included. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * A raw request with auth; resolves with the response whatever its status. The token
   * is asked for on every request; a 401 asks the token function for a fresh one and
   * tries once more (a fixed token string is not retried). `auth: false` sends none.
   */
  async raw(
    method: string,
    path: string,
    init: { body?: unknown; query?: Query; headers?: Record<string, string>; signal?: AbortSignal; auth?: boolean } = {},
  ): Promise<Response> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) query.set(k, String(v));
    // A relative base ('' = same origin) works in a browser, so no `new URL` here.
    const qs = query.toString();
    const url = `${this.base}${path}${qs ? `?${qs}` : ''}`;
    const send = async (refresh: boolean): Promise<Response> => {
      const headers: Record<string, string> = { ...init.headers };
      if (init.auth !== false) headers.authorization = `Bearer ${await this.token(refresh)}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      try {
        return await this.fetchImpl(url, {
          method,
          headers,
          ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
          ...(init.signal ? { signal: init.signal } : {}),
        });
      } catch (err) {
        if ((err as Error)?.name === 'AbortError') throw err;
        throw new ChatApiError('network', `${method} ${path}: ${(err as Error)?.message ?? 'request failed'}`, 0);
      }
    };
    const res = await send(false);
    if (res.status !== 401 || init.auth === false || !this.tokens.refreshable) return res;
    await res.body?.cancel().catch(() => undefined);
    return send(true);
  }

  private async token(refresh: boolean): Promise<string> {
    try {
      return await this.tokens.get(refresh);
    } catch (err) {
      // No answer from whatever hands out tokens: like a network failure, worth another try.
      throw new ChatApiError('token_unavailable', `could not get a token: ${(err as Error)?.message ?? String(err)}`, 0);
    }
  }

  /** Keeps the in-flight count while `work` runs (for SSE: until the body has been read). */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
    }
  }

  private json<T>(method: string, path: string, init: { body?: unknown; query?: Query; headers?: Record<string, string> } = {}): Promise<T> {
    return this.track(async () => {
      const res = await this.raw(method, path, init);
      if (!res.ok) throw await errorFromResponse(res);
      if (res.status === 204) return undefined as T;
      return (await res.json()) as T;
    });
  }

  /**
   * `GET /api/capabilities` (public, no token). Anything that is not this API's answer (a
   * static host's 404 page, an HTML fallback, no server at all) is a `ChatApiError`
   * `unavailable`, whose `status` is the HTTP status (0 when nothing answered).
   */
  capabilities = () =>
    this.track(async () => {
      let res: Response;
      try {
        res = await this.raw('GET', '/api/capabilities', { auth: false });
      } catch (err) {
        throw new ChatApiError('unavailable', `no chat API answered at ${this.base || 'this origin'}: ${(err as Error)?.message ?? String(err)}`, 0);
      }
      let body: Partial<Capabilities> | null = null;
      if (res.ok) body = (await res.json().catch(() => null)) as Partial<Capabilities> | null;
      else await res.body?.cancel().catch(() => undefined);
      if (!body || typeof body.backgroundStreaming !== 'boolean' || (body.realtime !== null && body.realtime !== 'socket.io')) {
        throw new ChatApiError('unavailable', `${this.base || 'this origin'} does not serve the chat API (GET /api/capabilities: HTTP ${res.status}${res.ok ? ', not its JSON' : ''})`, res.status);
      }
      return body as Capabilities;
    });

  listThreads = (q: { limit?: number; cursor?: string } = {}) => this.json<Page<Thread>>('GET', '/api/threads', { query: q });
  createThread = (body: { title?: string } = {}) => this.json<Thread>('POST', '/api/threads', { body });
  getThread = (threadId: string) => this.json<Thread>('GET', `/api/threads/${encodeURIComponent(threadId)}`);
  patchThread = (threadId: string, body: { title?: string; muted?: boolean }) => this.json<Thread>('PATCH', `/api/threads/${encodeURIComponent(threadId)}`, { body });
  deleteThread = (threadId: string) => this.json<void>('DELETE', `/api/threads/${encodeURIComponent(threadId)}`);

  listMessages = (threadId: string, q: { limit?: number; before?: string } = {}) =>
    this.json<{ items: Message[] }>('GET', `/api/threads/${encodeURIComponent(threadId)}/messages`, { query: q });
  sendMessage = (threadId: string, body: { content: string; model?: string }, idempotencyKey?: string) =>
    this.json<SendMessageResult>('POST', `/api/threads/${encodeURIComponent(threadId)}/messages`, {
      body,
      ...(idempotencyKey ? { headers: { 'idempotency-key': idempotencyKey } } : {}),
    });

  getStream = (streamId: string) => this.json<StreamState>('GET', `/api/streams/${encodeURIComponent(streamId)}`);
  cancelStream = (streamId: string) => this.json<unknown>('POST', `/api/streams/${encodeURIComponent(streamId)}/cancel`).then(() => undefined);

  listNotifications = (q: { unread?: boolean; limit?: number; cursor?: string } = {}) => this.json<Page<Notification>>('GET', '/api/notifications', { query: q });
  markNotificationRead = (id: string) => this.json<void>('POST', `/api/notifications/${encodeURIComponent(id)}/read`);
  markAllNotificationsRead = () => this.json<void>('POST', '/api/notifications/read-all');
}
