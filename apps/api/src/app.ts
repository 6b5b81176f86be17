import express, { type Express } from 'express';
import { ApiError, type Capabilities } from '@bgs/shared';
import type { Logger, PrismaClient } from '@bgs/server';
import { QUEUE_BOARD_PATH } from './admin/queue-board';
import { devTokenRoutes } from './auth/dev-token-routes';
import { requireUser, type UserRegistry } from './auth/require-user';
import { DEMO_ASSETS_PATH, demoRoutes } from './demo/demo-routes';
import { capabilitiesRoute, healthRoutes, type ReadinessChecks } from './health/health-routes';
import { AI_SDK_EXAMPLE_PATH, exampleRoutes } from './examples/example-routes';
import { errorMiddleware, notFoundRoute } from './http/error-middleware';
import { messageRoutes, type MessageRouteDeps } from './messages/message-routes';
import { notificationRoutes } from './notifications/notification-routes';
import type { ApiMetrics } from './observability/api-metrics';
import { httpMetrics, RouteLabels } from './observability/http-metrics';
import { metricsRoutes } from './observability/metrics-routes';
import { chatRoutes } from './chat/chat-routes';
import type { ChatStreaming } from './chat/chat-streaming';
import type { MessageSender } from './messages/message-sender';
import { buildOpenApiDocument } from './openapi/openapi-document';
import { openApiRoutes } from './openapi/openapi-routes';
import { listAppRoutes } from './openapi/route-list';
import type { StreamCanceller } from './streams/stream-canceller';
import { streamRoutes } from './streams/stream-routes';
import type { ThreadDeletedPort } from './realtime/thread-deletions';
import { threadRoutes } from './threads/thread-routes';
import type { ThreadStore } from './threads/thread-store';

export interface AppDeps extends MessageRouteDeps {
  prisma: PrismaClient;
  /** What `/readyz` checks. */
  readiness: ReadinessChecks;
  users: UserRegistry;
  threads: ThreadStore;
  canceller: StreamCanceller;
  capabilities: Capabilities;
  auth: { secret: string; devTokens: boolean };
  maxBodyBytes: number;
  logger: Logger;
  /** `GET /metrics` and the HTTP duration histogram. */
  metrics: ApiMetrics;
  /** The AI SDK chat routes: their own send path (same store and limits) and how answers stream. */
  chat: { sender: MessageSender; streaming: ChatStreaming };
  /** Bull Board behind ADMIN_TOKEN (see admin/queue-board.ts); null: `/admin/queues` is a 404. */
  queueBoard: express.Router | null;
  /** Tells the user's sockets on every instance that a thread was deleted. */
  threadDeletions: ThreadDeletedPort;
}

/** A body that is not JSON would otherwise be silently ignored: refuse it instead. */
const requireJsonBody: express.RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    return next(new ApiError('invalid_request', 'request bodies must be JSON (Content-Type: application/json)'));
  }
  next();
};

/**
 * The HTTP API: public health, metrics and admin routes, the demo chat page at `/`,
 * then `/api` (its document and capabilities public, the rest behind bearer auth),
 * then JSON errors.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  // Route templates are read once every route is registered (at the first response).
  let labels: RouteLabels | null = null;
  app.use(httpMetrics(deps.metrics.httpDuration, () => (labels ??= new RouteLabels(listAppRoutes(app), [DEMO_ASSETS_PATH, AI_SDK_EXAMPLE_PATH, ...(deps.queueBoard ? [QUEUE_BOARD_PATH] : [])]))));
  app.use(requireJsonBody);
  app.use(express.json({ limit: deps.maxBodyBytes, strict: true, type: ['application/json', 'application/*+json'] }));
  app.use(healthRoutes(deps.readiness));
  app.use(metricsRoutes(deps.metrics.registry));
  if (deps.queueBoard) app.use(deps.queueBoard);
  app.use(demoRoutes());
  app.use(exampleRoutes());

  const api = express.Router();
  api.use(openApiRoutes(buildOpenApiDocument({ maxMessageChars: deps.maxMessageChars, devTokens: deps.auth.devTokens, queueBoard: deps.queueBoard !== null })));
  api.use(capabilitiesRoute(deps.capabilities));
  if (deps.auth.devTokens) api.use(devTokenRoutes(deps.auth.secret));
  api.use(requireUser(deps.auth.secret, deps.users));
  api.use(threadRoutes({ threads: deps.threads, canceller: deps.canceller, deletions: deps.threadDeletions }));
  api.use(messageRoutes(deps));
  api.use(chatRoutes({ threads: deps.threads, chatSender: deps.chat.sender, streaming: deps.chat.streaming, canceller: deps.canceller, defaultModel: deps.defaultModel }));
  api.use(streamRoutes({ reader: deps.reader, canceller: deps.canceller, prisma: deps.prisma }));
  api.use(notificationRoutes(deps.prisma));
  app.use('/api', api);

  app.use(notFoundRoute);
  app.use(errorMiddleware(deps.logger));
  return app;
}
