import type { Logger } from '../logging/logger';

/**
 * Runs `close` once on SIGTERM or SIGINT, then exits: 0 when it finished, 1 when it
 * failed or took longer than `timeoutMs` (a stuck close must not keep a process alive).
 */
export function onShutdown(logger: Logger, close: () => Promise<void>, timeoutMs: number): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    close()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: Error) => {
        logger.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
