import { Provider, ProviderError, ProviderRequest } from './provider';

/** Defaults for a simulated generation; a `[sim ...]` directive overrides them per message. */
export interface SimulatedProviderOptions {
  tokens: number;
  tokensPerSecond: number;
}

/** What a `[sim ...]` directive in a user message asks for. Absent keys fall back to defaults. */
export interface SimDirective {
  tokens?: number;
  rate?: number;
  fail?: 'unrecoverable' | 'transient';
  /** Tokens emitted before the transient failure or the hang. */
  at?: number;
  /** Attempts (1..times) that fail transiently. */
  times?: number;
  hang?: boolean;
}

const MAX_TOKENS = 1_000_000;
const MAX_RATE = 1_000_000;

// Plain words so the output looks like prose in a UI and splits cleanly on spaces.
const VOCABULARY = `
the a an and or but so because while when where which that this these those it its they them their
we our you your he she his her one two three many few some every each other more most less least
time day week year moment system stream message thread answer question user server client worker queue
token model provider network signal event frame buffer record value result reason idea example detail
state change update request response error retry attempt session socket channel window screen page view
simple quick slow steady careful clear open closed early late small large long short new old good better
best real live final partial ready stable quiet busy local remote shared single double common useful
write read send receive start stop finish resume pause wait check keep make take give find build run
move switch return follow notice handle store load save show hide join split count measure track report
always never often sometimes again still already soon then now here there together apart almost nearly
about after before during within without across between through around above below under over into onto
river mountain garden window kitchen library market harbor village bridge forest meadow island valley
coffee paper letter story music color light shadow morning evening summer winter autumn spring weather
`
  .split(/\s+/)
  .filter((word) => word.length > 0);

/** FNV-1a over UTF-16 code units: a cheap, stable 32-bit seed from the message text. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: tiny seeded PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/**
 * The deterministic answer to `userContent`: `tokens` word tokens, the first capitalised with no
 * leading space, every later one `' ' + word`, so `tokens.join('')` is the text. Sentences end
 * with '.' now and then, and the last token always does.
 */
export function simulatedAnswer(userContent: string, tokens: number): string[] {
  return [...simulatedTokens(userContent, tokens)];
}

/** The same tokens one at a time: a running generation holds its position, not its whole answer. */
export function* simulatedTokens(userContent: string, tokens: number): Generator<string, void, undefined> {
  const count = clampInt(tokens, 1, MAX_TOKENS);
  const random = mulberry32(fnv1a(userContent));
  let sentenceLength = 0;
  for (let i = 0; i < count; i++) {
    let word = VOCABULARY[Math.floor(random() * VOCABULARY.length)];
    if (sentenceLength === 0) word = capitalise(word);
    sentenceLength++;
    // Draw the period on every token so the sequence only depends on the content, not on `tokens`.
    const endsSentence = random() < 0.12 && sentenceLength >= 4;
    if (endsSentence || i === count - 1) {
      word += '.';
      sentenceLength = 0;
    }
    yield i === 0 ? word : ` ${word}`;
  }
}

function clampInt(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.floor(value)));
}

/** A finite number from a directive value, or undefined when malformed. */
function parseNumber(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** Applies one `key=value` (or bare `key`) of a directive; unknown keys and bad values are ignored. */
function applyDirectiveKey(directive: SimDirective, key: string, raw: string | undefined): void {
  const value = parseNumber(raw);
  switch (key) {
    case 'tokens':
      if (value !== undefined) directive.tokens = clampInt(value, 1, MAX_TOKENS);
      break;
    case 'rate':
      // (0, 1e6]: zero or negative has no meaningful clamp, so it falls back to the default.
      if (value !== undefined && value > 0) directive.rate = Math.min(value, MAX_RATE);
      break;
    case 'at':
      if (value !== undefined) directive.at = clampInt(value, 0, MAX_TOKENS);
      break;
    case 'times':
      if (value !== undefined) directive.times = clampInt(value, 0, Number.MAX_SAFE_INTEGER);
      break;
    case 'fail':
      if (raw === 'unrecoverable' || raw === 'transient') directive.fail = raw;
      break;
    case 'hang':
      if (raw === undefined) directive.hang = true;
      break;
  }
}

/**
 * Parses the first `[sim key=value ...]` directive in `content`, e.g.
 * `[sim tokens=50 rate=1000 fail=transient at=10 times=2]` or `[sim hang at=3]`.
 * Returns `{}` when there is none.
 */
export function parseSimDirective(content: string): SimDirective {
  const match = /\[sim(?:\s+([^\]]*))?\]/i.exec(content);
  const directive: SimDirective = {};
  if (!match) return directive;
  for (const part of (match[1] ?? '').split(/\s+/)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    applyDirectiveKey(directive, key, eq < 0 ? undefined : part.slice(eq + 1));
  }
  return directive;
}

function lastUserContent(request: ProviderRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    if (request.messages[i].role === 'user') return request.messages[i].content;
  }
  return '';
}

/**
 * The sleeps of one generation, each resolved after its `ms` or on abort, whichever is
 * first. One abort listener serves them all: a generation sleeps once per token, and a
 * listener added and removed per token was a tenth of a busy worker's CPU. `close` leaves
 * no timer or listener behind.
 */
function sleeper(signal: AbortSignal): { sleep(ms: number): Promise<void>; close(): void } {
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const onAbort = () => {
    clearTimeout(timer);
    wake?.();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    sleep: (ms) =>
      new Promise((resolve) => {
        if (signal.aborted) return resolve();
        wake = resolve;
        timer = setTimeout(resolve, ms);
      }),
    close: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    },
  };
}

/** Resolves on abort only (the `[sim hang]` case). */
function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

interface Plan {
  tokens: Iterator<string, void>;
  count: number;
  rate: number;
  /** Index at which to fail transiently or hang; undefined streams to the end. */
  stopAt?: number;
  stop?: 'transient' | 'hang';
}

function planFor(request: ProviderRequest, options: SimulatedProviderOptions): Plan {
  const content = lastUserContent(request);
  const directive = parseSimDirective(content);
  if (directive.fail === 'unrecoverable') {
    throw new ProviderError('simulated_unrecoverable', 'Simulated unrecoverable provider failure', false);
  }
  const count = clampInt(directive.tokens ?? options.tokens, 1, MAX_TOKENS);
  const tokens = simulatedTokens(content, count);
  const rate = directive.rate ?? Math.min(options.tokensPerSecond, MAX_RATE);
  const at = Math.min(directive.at ?? 0, count);
  // Transient wins over hang: a failing attempt fails; later attempts may still hang.
  if (directive.fail === 'transient' && request.attempt <= (directive.times ?? 1)) {
    return { tokens, count, rate, stopAt: at, stop: 'transient' };
  }
  if (directive.hang) return { tokens, count, rate, stopAt: at, stop: 'hang' };
  return { tokens, count, rate };
}

/**
 * Yields the plan's tokens paced by wall-clock time: token i is due `i / rate` seconds after start.
 * Every due token is yielded at once and the timer only covers the gap to the next one, so
 * high rates stay accurate despite the ~1 ms timer floor.
 */
async function* paced(plan: Plan, request: ProviderRequest): AsyncGenerator<string, void, undefined> {
  const { signal } = request;
  const msPerToken = 1000 / plan.rate;
  const end = plan.stopAt ?? plan.count;
  const start = performance.now();
  const pause = sleeper(signal);
  let emitted = 0;
  try {
    while (emitted < end) {
      const due = Math.min(end, Math.floor((performance.now() - start) / msPerToken) + 1);
      while (emitted < due) {
        if (signal.aborted) return;
        emitted++;
        yield plan.tokens.next().value as string;
      }
      if (emitted < end) await pause.sleep(start + emitted * msPerToken - performance.now());
      if (signal.aborted) return;
    }
  } finally {
    pause.close();
  }
  if (plan.stop === 'transient') {
    throw new ProviderError('simulated_transient', `Simulated transient provider failure after ${end} tokens`, true);
  }
  if (plan.stop === 'hang') await waitForAbort(signal);
}

/**
 * A provider that needs no model: answers with deterministic filler text derived from the last
 * user message, at a configurable pace. `[sim ...]` directives in that message script failures,
 * hangs, lengths and rates for tests and demos.
 */
export function createSimulatedProvider(options: SimulatedProviderOptions): Provider {
  // Fail at startup rather than pace with NaN or Infinity per token.
  if (!(options.tokens >= 1) || !(options.tokensPerSecond > 0)) {
    throw new RangeError('Simulated provider needs tokens >= 1 and tokensPerSecond > 0');
  }
  return {
    name: 'simulated',
    async *stream(request: ProviderRequest): AsyncGenerator<string, void, undefined> {
      if (request.signal.aborted) return;
      yield* paced(planFor(request, options), request);
    },
  };
}
