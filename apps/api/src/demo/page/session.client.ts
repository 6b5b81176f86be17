import type { TokenRequest } from '@bgs/client';
import { byId } from './dom.client';

const USER_KEY = 'bgs-demo:user';
const TOKEN_KEY = 'bgs-demo:token';
/** A token this close to its expiry is renewed before it is used. */
const RENEW_BEFORE_MS = 60_000;

/**
 * The demo user's id: `?user=` when given (kept for next time), else the one this
 * browser used before, else a new random one. Two tabs of the same browser are the
 * same user; `?user=bob` in another makes a second one.
 */
function demoUserId(): string {
  const asked = new URLSearchParams(location.search).get('user');
  const userId = asked && /^[\w.@-]{1,200}$/.test(asked) ? asked : localStorage.getItem(USER_KEY) ?? `demo-${Math.random().toString(36).slice(2, 10)}`;
  localStorage.setItem(USER_KEY, userId);
  return userId;
}

/** When a JWT expires (ms since the epoch), or null if it does not say. */
function expiryOf(token: string): number | null {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Who the page talks as, and the token function it gives the chat client. A dev token
 * for the demo user when the API hands them out (AUTH_DEV_TOKENS, on under `npm start`),
 * renewed before it expires or when the server refused it; otherwise the token pasted
 * into the sign-in form (kept for this tab only), asked for again when refused.
 */
export class Session {
  /** The demo user's id; null when signed in with a pasted token. */
  userId: string | null = null;
  private current: { token: string } | null = null;
  private obtaining: Promise<string> | null = null;
  private refused = false;

  /** The chat client's token function. */
  readonly token = ({ refresh }: TokenRequest): Promise<string> => {
    const held = this.current;
    // REST and the socket often ask at the same time (both refused the same token): one new token for both.
    if (this.obtaining) return this.obtaining;
    if (held && !refresh) {
      const exp = expiryOf(held.token);
      if (exp === null || exp - Date.now() > RENEW_BEFORE_MS) return Promise.resolve(held.token);
    }
    if (held && refresh) this.refused = true;
    this.obtaining = this.obtain().then(
      (token) => {
        this.current = { token };
        this.obtaining = null;
        return token;
      },
      (err: unknown) => {
        this.obtaining = null;
        throw err;
      },
    );
    return this.obtaining;
  };

  /** The token was refused for good (the client gave up): the next one is asked for anew. */
  signOut(): void {
    this.current = null;
    this.refused = true;
  }

  private async obtain(): Promise<string> {
    const userId = demoUserId();
    const res = await fetch('/api/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
    if (res.ok) {
      this.userId = userId;
      return ((await res.json()) as { token: string }).token;
    }
    // Dev tokens off: the route is not there, so the bearer check behind /api answers (401), or nothing does (404).
    if (res.status !== 401 && res.status !== 404) throw new Error(`dev token: HTTP ${res.status}`);
    this.userId = null;
    const rejected = this.refused;
    this.refused = false;
    if (rejected) sessionStorage.removeItem(TOKEN_KEY);
    const kept = sessionStorage.getItem(TOKEN_KEY);
    if (kept) return kept;
    const token = await askForToken(rejected ? 'That token was refused. ' : '');
    sessionStorage.setItem(TOKEN_KEY, token);
    return token;
  }
}

/** Shows the sign-in form until a token is entered. */
function askForToken(problem: string): Promise<string> {
  const form = byId<HTMLFormElement>('sign-in');
  const input = byId<HTMLInputElement>('token-input');
  byId('sign-in-problem').textContent = `${problem}Dev tokens are off on this server: paste a bearer token (a JWT signed with AUTH_SECRET).`;
  input.value = '';
  form.hidden = false;
  input.focus();
  return new Promise((resolve) => {
    const submitted = (event: SubmitEvent) => {
      event.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      form.removeEventListener('submit', submitted);
      form.hidden = true;
      resolve(token);
    };
    form.addEventListener('submit', submitted);
  });
}
