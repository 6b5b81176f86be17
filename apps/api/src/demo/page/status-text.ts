import type { ConnectionStatus, ThreadViewState } from '@bgs/client';

/** A problem as the client reports it (`connectionProblem()`, a view's `problem` or `error`). */
interface Problem {
  code: string;
  message: string;
}

/** What went wrong, in words a person understands (no codes, no jargon). */
function cause(problem: Problem | null): string {
  switch (problem?.code) {
    case 'unavailable':
      return 'the server is temporarily unavailable';
    case 'timeout':
      return 'the server is taking too long to answer';
    case 'network':
    case 'disconnected':
      return 'the connection was lost';
    case 'token_unavailable':
      return 'signing in did not work';
    default:
      return 'the server could not be reached';
  }
}

/** The header's connection badge: the socket's state (background mode), or how answers arrive. */
export function connectionText(status: ConnectionStatus, problem: Problem | null): string {
  switch (status) {
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Live';
    case 'reconnecting':
      return `Reconnecting: ${cause(problem)}. Answers keep being written meanwhile.`;
    case 'offline':
      return problem?.code === 'unauthorized' ? 'Signed out: reload the page to sign in again.' : 'Offline';
    case 'none':
      return 'Answers stream directly (no live connection needed)';
  }
}

/** The page on a host with no chat server behind it. */
export const UNAVAILABLE_TEXT = 'The chat server cannot be reached from this page, so chats cannot be shown or sent here.';

/** Why a thread cannot be shown, for a permanent error. */
function errorText(error: Problem): string {
  switch (error.code) {
    case 'not_found':
      return 'This chat no longer exists.';
    case 'unauthorized':
      return 'Your session has ended. Reload the page to sign in again.';
    case 'forbidden':
      return 'You do not have access to this chat.';
    default:
      return `This chat cannot be shown: ${error.message}`;
  }
}

/**
 * The line above the open thread's messages: null when all is well (`live`, `loading`),
 * else what is going on and what the page does about it.
 */
export function threadNotice(view: Pick<ThreadViewState, 'status' | 'problem' | 'error'>): { kind: 'info' | 'warning' | 'gone'; text: string } | null {
  switch (view.status) {
    case 'live':
    case 'loading':
      return null;
    case 'retrying':
      return { kind: 'warning', text: `Can't update this chat right now: ${cause(view.problem)}. Trying again…` };
    case 'offline':
      return { kind: 'info', text: 'Reconnecting… An answer being written here still shows up, a little less often.' };
    case 'deleted':
      return { kind: 'gone', text: 'This chat was deleted (here or in another tab).' };
    case 'error':
      return { kind: 'gone', text: errorText(view.error ?? { code: 'internal', message: 'unknown error' }) };
  }
}
