// The baselines' token source: word tokens paced exactly like the product's simulated
// provider (token i is due i/rate seconds after the start; every due token is yielded
// at once), so the three paths carry the same tokens on the same schedule.

const WORDS = `the a and or but so it they we you one two time day stream message thread answer user
server client worker queue token model frame buffer value result state update request response
simple quick steady clear open ready stable write read send start stop finish resume switch return`
  .split(/\s+/)
  .filter(Boolean);

/** `count` tokens: the first is a bare word, every later one ' word' (as the simulated provider). */
export function benchTokens(seed, count) {
  let state = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) state = Math.imul(state ^ seed.charCodeAt(i), 0x01000193) >>> 0;
  const out = [];
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const word = WORDS[state % WORDS.length];
    out.push(i === 0 ? word : ` ${word}`);
  }
  return out;
}

/** Resolves at performance.now() >= `at`, or at once when `signal` aborts. */
function until(at, signal) {
  const ms = at - performance.now();
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Yields `{ index, token, at }` for each token, paced at `rate` tokens/s; `at` is the
 * Date.now() when the token was produced (the producer timestamp the client compares with).
 */
export async function* pacedTokens(tokens, rate, signal) {
  const msPerToken = 1000 / rate;
  const start = performance.now();
  let emitted = 0;
  while (emitted < tokens.length) {
    const due = Math.min(tokens.length, Math.floor((performance.now() - start) / msPerToken) + 1);
    while (emitted < due) {
      if (signal?.aborted) return;
      yield { index: emitted, token: tokens[emitted], at: Date.now() };
      emitted++;
    }
    if (emitted < tokens.length) await until(start + emitted * msPerToken, signal);
    if (signal?.aborted) return;
  }
}
