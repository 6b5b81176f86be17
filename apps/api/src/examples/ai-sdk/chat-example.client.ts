// The AI SDK example page (served at /examples/ai-sdk, bundled by scripts/build.mjs into
// dist/examples/ai-sdk/): a plain AI SDK chat, @ai-sdk/vue's `Chat` with the `ai` package's
// own `DefaultChatTransport` against POST /api/chat. Nothing of libs/client is used.
// The chat id is in the URL (`?chat=`), so a reload finds the same chat: the page reads its
// stored history, then resumes the answer still being written (what `useChat({ resume: true })`
// does). Stop drops the connection (`chat.stop()`) and stops the generation on the server.
import { Chat } from '@ai-sdk/vue';
import { DefaultChatTransport, generateId, type ChatStatus, type UIMessage } from 'ai';
import { createApp, defineComponent, h, ref } from 'vue';

/** History messages carry the status the server stored: `complete`, `streaming`, `cancelled` or `failed`. */
type Message = UIMessage<{ status?: string }>;

interface StoredMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: string;
}

const API = '/api/chat';
const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/;
// The demo page's user (`?user=`, else the one this browser used before): its thread list shows these chats too.
const USER_KEY = 'bgs-demo:user';

const STATUS_TEXT: Record<ChatStatus, string> = { submitted: 'sending…', streaming: 'answering…', ready: 'ready', error: 'something went wrong' };
const STORED_TAG: Record<string, string> = { cancelled: 'stopped', failed: 'failed' };

/** The chat named in the URL, or a new one whose id (the AI SDK's format) goes into the URL. */
function chatFromUrl(): { id: string; isNew: boolean } {
  const url = new URL(location.href);
  const asked = url.searchParams.get('chat');
  if (asked && CHAT_ID.test(asked)) return { id: asked, isNew: false };
  const id = generateId();
  url.searchParams.set('chat', id);
  history.replaceState(null, '', url);
  return { id, isNew: true };
}

/** A dev token (AUTH_DEV_TOKENS, on under `npm start`). A real app has its own sign-in. */
async function devToken(): Promise<string> {
  const asked = new URLSearchParams(location.search).get('user');
  const userId = asked && /^[\w.@-]{1,200}$/.test(asked) ? asked : localStorage.getItem(USER_KEY) ?? `demo-${Math.random().toString(36).slice(2, 10)}`;
  localStorage.setItem(USER_KEY, userId);
  const res = await fetch('/api/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) });
  if (!res.ok) throw new Error(`no dev token (HTTP ${res.status}): this example needs AUTH_DEV_TOKENS=1`);
  return ((await res.json()) as { token: string }).token;
}

/** The chat's stored messages as UI messages, oldest first (a running answer with its text so far). */
async function storedHistory(chatId: string, headers: Record<string, string>): Promise<Message[]> {
  const res = await fetch(`/api/threads/${chatId}/messages?limit=200`, { headers });
  if (res.status === 404) return []; // nothing was ever sent in this chat
  if (!res.ok) throw new Error(`history: HTTP ${res.status}`);
  const { items } = (await res.json()) as { items: StoredMessage[] };
  return items.map((m) => ({ id: m.id, role: m.role, parts: [{ type: 'text', text: m.content }], metadata: { status: m.status } }));
}

const textOf = (m: Message | undefined) => (m?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');

/** Our error answers are `{error: {code, message}}`; the AI SDK puts the body in the error's message. */
function describe(err: Error): string {
  try {
    return (JSON.parse(err.message) as { error: { message: string } }).error.message;
  } catch {
    return err.message;
  }
}

/**
 * `useChat({ resume: true })`: GET /api/chat/:id/stream replays the running answer and follows
 * it to its end (204: nothing runs). An answer that ended between the history read and that
 * request is not replayed: the history, read again, has its end.
 */
async function resume(chat: Chat<Message>, headers: Record<string, string>, loaded: Message[]): Promise<void> {
  const last = loaded[loaded.length - 1];
  await chat.resumeStream();
  if (last.metadata?.status !== 'streaming' || chat.status !== 'ready' || textOf(chat.lastMessage) !== textOf(last)) return;
  const stored = await storedHistory(chat.id, headers);
  if (chat.status === 'ready' && chat.messages.length === stored.length) chat.messages = stored;
}

/** The page: the messages, the chat's status in words, a text box with Send and Stop. */
function chatView(chat: Chat<Message>, headers: Record<string, string>) {
  return defineComponent({
    setup() {
      const input = ref('');
      const problem = ref('');
      const busy = () => chat.status === 'submitted' || chat.status === 'streaming';

      const send = (event: Event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text || busy()) return;
        input.value = '';
        problem.value = '';
        void chat.sendMessage({ text });
      };

      // chat.stop() only drops this page's connection (the server would write the answer to its
      // end anyway); DELETE stops the generation, which keeps its partial text as `cancelled`.
      const stop = async () => {
        const stopped = fetch(`${API}/${chat.id}/stream`, { method: 'DELETE', headers }).then(
          (res) => (res.ok ? '' : `Could not stop the answer on the server (HTTP ${res.status}).`),
          (err: Error) => `Could not stop the answer on the server: ${err.message}`,
        );
        const [, failed] = await Promise.all([chat.stop(), stopped]);
        problem.value = failed;
      };

      return () =>
        h('main', [
          h('header', [h('h1', 'AI SDK chat'), h('a', { href: location.pathname }, 'New chat')]),
          h('p', { class: 'status', role: 'status', 'data-testid': 'chat-status', 'data-status': chat.status }, STATUS_TEXT[chat.status]),
          h(
            'ol',
            { class: 'messages', 'aria-label': 'Messages' },
            chat.messages.map((m) =>
              h('li', { key: m.id, class: ['message', m.role], 'data-testid': 'message', 'data-role': m.role }, [
                h('span', { class: 'role' }, m.role === 'user' ? 'You' : 'Assistant'),
                h('span', { 'data-testid': 'message-text' }, textOf(m)),
                STORED_TAG[m.metadata?.status ?? ''] ? h('span', { class: 'tag' }, ` (${STORED_TAG[m.metadata?.status ?? '']})`) : null,
              ]),
            ),
          ),
          problem.value || chat.error ? h('p', { class: 'problem', role: 'alert' }, problem.value || describe(chat.error as Error)) : null,
          h('form', { onSubmit: send }, [
            h('input', {
              value: input.value,
              onInput: (e: Event) => (input.value = (e.target as HTMLInputElement).value),
              placeholder: 'Ask something ([sim tokens=200 rate=20]: a slow answer)',
              'aria-label': 'Message',
              'data-testid': 'input',
            }),
            h('button', { type: 'submit', disabled: busy(), 'data-testid': 'send' }, 'Send'),
            h('button', { type: 'button', disabled: !busy(), onClick: () => void stop(), 'data-testid': 'stop' }, 'Stop'),
          ]),
        ]);
    },
  });
}

async function boot(): Promise<void> {
  const { id, isNew } = chatFromUrl();
  const headers = { Authorization: `Bearer ${await devToken()}` };
  const messages = isNew ? [] : await storedHistory(id, headers);
  const chat = new Chat<Message>({ id, messages, transport: new DefaultChatTransport({ api: API, headers }) });
  createApp(chatView(chat, headers)).mount('#app');
  if (messages.length > 0) await resume(chat, headers, messages);
}

boot().catch((err: unknown) => {
  const problem = document.createElement('p');
  problem.className = 'problem';
  problem.setAttribute('role', 'alert');
  problem.textContent = `The chat could not start: ${(err as Error)?.message ?? String(err)}`;
  document.getElementById('app')?.replaceChildren(problem);
  console.error(err);
});
