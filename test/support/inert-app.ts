import { Router } from 'express';
import { createLogger } from '@bgs/server';
import { createApp, type AppDeps } from '../../apps/api/src/app';
import { ApiMetrics } from '../../apps/api/src/observability/api-metrics';

/**
 * The API's real router, built with inert dependencies: routes are registered, never
 * called. For checks of what the router answers against what the document says.
 */
export function inertApp(options: { devTokens: boolean; queueBoard: boolean; maxMessageChars?: number; adminToken?: string | null }) {
  const deps = {
    prisma: {}, readiness: {}, users: {}, threads: {}, canceller: {}, messages: {}, reader: {}, sender: {}, delivery: {}, chat: {}, threadDeletions: {},
    capabilities: { backgroundStreaming: true, realtime: 'socket.io', providers: ['simulated'], defaultModel: 'simulated-1' },
    auth: { secret: 'x'.repeat(32), devTokens: options.devTokens, adminToken: options.adminToken ?? null },
    defaultModel: 'simulated-1', maxMessageChars: options.maxMessageChars ?? 32_000, maxBodyBytes: 65_536,
    logger: createLogger('test', 'silent'), metrics: new ApiMetrics(), queueBoard: options.queueBoard ? Router() : null,
  } as unknown as AppDeps;
  return createApp(deps);
}
