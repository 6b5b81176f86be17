/** Passes a value on unless its key was seen; `forget` lets a key pass again. */
export interface OncePerKey<T> {
  (value: T): void;
  forget(key: string): void;
}

/**
 * Passes each value on once per key, remembering the last `capacity` keys (then starting
 * over): for news the server may send more than once, such as a notification pushed at
 * least once, or a thread deletion heard both from this tab's request and from the server.
 */
export function oncePerKey<T>(keyOf: (value: T) => string, deliver: (value: T) => void, capacity = 1_000): OncePerKey<T> {
  const seen = new Set<string>();
  const once = (value: T) => {
    const key = keyOf(value);
    if (seen.has(key)) return;
    if (seen.size >= capacity) seen.clear();
    seen.add(key);
    deliver(value);
  };
  return Object.assign(once, { forget: (key: string) => void seen.delete(key) });
}
