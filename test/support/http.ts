export interface HttpAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small REST client for tests: JSON in, JSON out, never throws on 4xx/5xx. */
export function httpClient(baseUrl: string, token?: string) {
  const request = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text so a test can show it */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => request<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => request<T>('POST', path, body, headers),
    patch: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => request<T>('PATCH', path, body, headers),
    delete: <T = any>(path: string, headers?: Record<string, string>) => request<T>('DELETE', path, undefined, headers),
    request,
  };
}

export type HttpClient = ReturnType<typeof httpClient>;

/** Polls `probe` until it returns a value (not undefined), for state only visible by asking. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until stream `streamId` has ended (completed, failed or cancelled) and returns its final state. */
export function streamEnded(api: HttpClient, streamId: string, timeoutMs = 15_000): Promise<any> {
  return eventually(async () => {
    const s = (await api.get(`/api/streams/${streamId}`)).body;
    return ['completed', 'failed', 'cancelled'].includes(s?.status) ? s : undefined;
  }, `stream ${streamId} to end`, timeoutMs);
}
