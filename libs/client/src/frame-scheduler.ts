import { animationFrameScheduler } from './animation-frame.client';

/**
 * Runs `flush` once, later; returns a function that cancels it. The client coalesces
 * every state change in between into one UI update: one per animation frame in a
 * browser, one per `timeoutScheduler` tick in Node (or whatever a test passes in).
 */
export type FrameScheduler = (flush: () => void) => () => void;

/** A timer-based scheduler for Node and tests: one flush per `ms`. */
export function timeoutScheduler(ms = 16): FrameScheduler {
  return (flush) => {
    const timer = setTimeout(flush, ms);
    return () => clearTimeout(timer);
  };
}

/** `requestAnimationFrame` where there is a window to paint, a 16 ms timer elsewhere. */
export function defaultScheduler(): FrameScheduler {
  return animationFrameScheduler() ?? timeoutScheduler(16);
}
