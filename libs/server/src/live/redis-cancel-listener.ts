import type { RedisClient } from '../redis/connection';
import type { CancelSignals } from '../generation/cancel-signals';
import type { RedisKeys } from '../redis/keys';

/**
 * Aborts this process's generation of a stream when any API instance requests its
 * cancel (`RedisLiveBuffer.requestCancel` broadcasts it): one subscription per process,
 * not per stream. Returns the function that unsubscribes.
 */
export async function listenForCancels(subscriber: RedisClient, keys: RedisKeys, cancels: CancelSignals): Promise<() => Promise<void>> {
  const onMessage = (channel: string, streamId: string) => {
    if (channel === keys.cancelChannel) cancels.abort(streamId, 'cancel');
  };
  subscriber.on('message', onMessage);
  await subscriber.subscribe(keys.cancelChannel);
  return async () => {
    subscriber.off('message', onMessage);
    await subscriber.unsubscribe(keys.cancelChannel).catch(() => undefined);
  };
}
