import type { ChatClient, ConnectionStatus, ThreadStatus, ThreadView } from '@bgs/client';

/** Every connection status a client went through, in order, from `initial` (what it said when recording started). */
export function recordStatuses(client: ChatClient): ConnectionStatus[] {
  const seen: ConnectionStatus[] = [client.connection()];
  client.onConnectionChange((s) => {
    if (s !== seen.at(-1)) seen.push(s);
  });
  return seen;
}

/** Resolves once the client's connection is `status` (now or later). */
export function untilStatus(client: ChatClient, status: ConnectionStatus, timeoutMs = 20_000): Promise<void> {
  if (client.connection() === status) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`connection not ${status} within ${timeoutMs} ms (is ${client.connection()})`))), timeoutMs);
    const off = client.onConnectionChange((s) => {
      if (s !== status) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** What a view said, step by step: its status (with the problem's code while retrying). */
export function recordViewStatuses(view: ThreadView): string[] {
  const seen: string[] = [];
  view.subscribe((s) => {
    const shown = s.status === 'retrying' ? `retrying:${s.problem?.code}` : s.status === 'error' ? `error:${s.error?.code}` : s.status;
    if (shown !== seen.at(-1)) seen.push(shown);
  });
  return seen;
}

/** `statuses` without the transient `loading` steps (whether a frame caught them depends on timing). */
export const withoutLoading = (statuses: string[]): string[] =>
  statuses.filter((s) => s !== 'loading').filter((s, i, all) => i === 0 || s !== all[i - 1]);

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  at: number;
}

/** A fetch that records each request and its answer's status (0: no answer). */
export function recordingFetch(): { fetch: typeof fetch; requests: RecordedRequest[]; polls(streamId: string): RecordedRequest[] } {
  const requests: RecordedRequest[] = [];
  const recording: typeof fetch = async (input, init) => {
    const r: RecordedRequest = { method: init?.method ?? 'GET', path: new URL(String(input)).pathname, status: 0, at: Date.now() };
    requests.push(r);
    const res = await fetch(input, init);
    r.status = res.status;
    return res;
  };
  return { fetch: recording, requests, polls: (streamId) => requests.filter((r) => r.method === 'GET' && r.path === `/api/streams/${streamId}`) };
}

export type { ThreadStatus };
