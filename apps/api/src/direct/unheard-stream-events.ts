import type { Announcement, StreamEvents } from '@bgs/server';

const UNHEARD: Announcement = { send: async () => undefined };

/**
 * Direct mode, outside a generation: a stream that no response is streaming (a cancel of
 * a stream this process is not running, a deleted thread's stream) has nobody to tell;
 * the running generation tells its own response.
 */
export const unheardStreamEvents: StreamEvents = {
  started: () => UNHEARD,
  reset: () => UNHEARD,
  delta: () => UNHEARD,
  ended: () => UNHEARD,
};
