import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ApiError } from '@bgs/shared';
import { isDatabaseUnavailable, type Logger } from '@bgs/server';

/** Errors from body-parser carry a `type`; map the ones a client causes. */
function fromBodyParser(err: { type?: string; status?: number }): ApiError | null {
  switch (err.type) {
    case 'entity.too.large':
      return new ApiError('payload_too_large', 'request body is too large');
    case 'entity.parse.failed':
      return new ApiError('invalid_request', 'request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('invalid_request', 'unsupported body encoding');
    case 'request.aborted':
      return new ApiError('invalid_request', 'request aborted');
    default:
      return err.status && err.status >= 400 && err.status < 500 ? new ApiError('invalid_request', 'malformed request') : null;
  }
}

/** Redis (ioredis) errors that mean "not reachable right now". */
function isRedisUnavailable(err: unknown): boolean {
  const message = (err as Error)?.message ?? '';
  return /Stream isn't writeable|enableOfflineQueue|Connection is closed|ECONNREFUSED|MaxRetriesPerRequestError|Reached the max retries|LOADING|READONLY/i.test(message);
}

/** Turns any error into the JSON of docs/protocol.md#errors; 5xx are logged with the request, never shown. */
export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let apiError = err instanceof ApiError ? err : fromBodyParser(err);
    if (!apiError && (isDatabaseUnavailable(err) || isRedisUnavailable(err))) {
      apiError = new ApiError('unavailable', 'a backing service is unavailable; retry shortly', undefined, 2);
      logger.warn({ method: req.method, path: req.path, err: (err as Error).message }, 'dependency unavailable');
    }
    if (!apiError) {
      logger.error({ method: req.method, path: req.path, err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'unhandled error');
      apiError = new ApiError('internal', 'internal error');
    }
    if (res.headersSent) return void res.end();
    if (apiError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(apiError.retryAfterSeconds));
    res.status(apiError.status).json(apiError.toBody());
  };
}

export const notFoundRoute: RequestHandler = (req, _res, next) => next(new ApiError('not_found', `no route ${req.method} ${req.path}`));
