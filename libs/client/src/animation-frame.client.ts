import type { FrameScheduler } from './frame-scheduler';

/**
 * Browser-only: one flush per animation frame (paused with the tab, as painting is).
 * Returns null outside a browser, so Node falls back to a timer.
 */
export function animationFrameScheduler(): FrameScheduler | null {
  if (typeof window === 'undefined' || typeof window.requestAnimationFrame !== 'function') return null;
  return (flush) => {
    const handle = window.requestAnimationFrame(() => flush());
    return () => window.cancelAnimationFrame(handle);
  };
}
