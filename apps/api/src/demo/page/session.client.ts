import { byId } from './dom.client';

/** Who the page talks as. */
export interface Session {
  userId: string | null;
  token: string;
}

const USER_KEY = 'bgs-demo:user';
const TOKEN_KEY = 'bgs-demo:token';

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

/**
 * Gets a token: a dev token for the demo user when the API hands them out
 * (AUTH_DEV_TOKENS, on under `npm start`); otherwise the one pasted into the sign-in
 * form (kept for this tab only). `rejected` says the last token was refused.
 */
export async function signIn(rejected = false): Promise<Session> {
  if (rejected) sessionStorage.removeItem(TOKEN_KEY);
  const userId = demoUserId();
  const res = await fetch('/api/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
  if (res.ok) return { userId, token: ((await res.json()) as { token: string }).token };
  // Dev tokens off: the route is not there, so the bearer check behind /api answers (401), or nothing does (404).
  if (res.status !== 401 && res.status !== 404) throw new Error(`dev token: HTTP ${res.status}`);
  const kept = sessionStorage.getItem(TOKEN_KEY);
  if (kept && !rejected) return { userId: null, token: kept };
  const token = await askForToken(rejected ? 'That token was refused. ' : '');
  sessionStorage.setItem(TOKEN_KEY, token);
  return { userId: null, token };
}

/** Shows the sign-in form until a token is entered. */
function askForToken(problem: string): Promise<string> {
  const form = byId<HTMLFormElement>('sign-in');
  const input = byId<HTMLInputElement>('token-input');
  byId('sign-in-problem').textContent = `${problem}Dev tokens are off on this server: paste a bearer token (a JWT signed with AUTH_SECRET).`;
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
