import type { Config } from '@bgs/shared';
import { createOpenAiProvider } from './openai-provider';
import type { Provider } from './provider';
import { createSimulatedProvider } from './simulated-provider';

/** The provider the configuration names. */
export function createProvider(config: Config['provider']): Provider {
  if (config.kind === 'openai') {
    return createOpenAiProvider({ baseUrl: config.openai.baseUrl, apiKey: config.openai.apiKey, timeoutMs: config.timeoutMs });
  }
  return createSimulatedProvider(config.simulated);
}
