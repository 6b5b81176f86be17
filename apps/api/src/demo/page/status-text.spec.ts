import { connectionText, threadNotice } from './status-text';

describe('what the demo page says about the connection and the open thread', () => {
  it('names the connection states in plain words, with the cause while reconnecting', () => {
    expect(connectionText('connected', null)).toBe('Live');
    expect(connectionText('reconnecting', { code: 'unavailable', message: 'x' })).toBe('Reconnecting: the server is temporarily unavailable. Answers keep being written meanwhile.');
    expect(connectionText('reconnecting', { code: 'timeout', message: 'x' })).toMatch(/taking too long/);
    expect(connectionText('offline', { code: 'unauthorized', message: 'x' })).toMatch(/Signed out/);
    expect(connectionText('none', null)).toMatch(/directly/);
  });

  it('says nothing while a thread is live or loading', () => {
    expect(threadNotice({ status: 'live', problem: null, error: null })).toBeNull();
    expect(threadNotice({ status: 'loading', problem: null, error: null })).toBeNull();
  });

  it('tells retrying, offline, deleted and errors apart, without codes', () => {
    expect(threadNotice({ status: 'retrying', problem: { code: 'unavailable', message: 'HTTP 503' }, error: null })).toEqual({
      kind: 'warning',
      text: "Can't update this chat right now: the server is temporarily unavailable. Trying again…",
    });
    expect(threadNotice({ status: 'offline', problem: null, error: null })?.kind).toBe('info');
    expect(threadNotice({ status: 'deleted', problem: null, error: null })).toEqual({ kind: 'gone', text: 'This chat was deleted (here or in another tab).' });
    expect(threadNotice({ status: 'error', problem: null, error: { code: 'not_found', message: 'thread not found' } })?.text).toBe('This chat no longer exists.');
    expect(threadNotice({ status: 'error', problem: null, error: { code: 'unauthorized', message: 'token expired' } })?.text).toMatch(/session has ended/);
    for (const status of ['retrying', 'offline', 'deleted', 'error'] as const) {
      expect(threadNotice({ status, problem: { code: 'unavailable', message: 'm' }, error: { code: 'internal', message: 'm' } })?.text).not.toMatch(/_|\binternal\b|HTTP/);
    }
  });
});
