/** One turn of the conversation sent to a provider. */
export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ProviderRequest {
  model: string;
  /** Oldest first; the last one is the user message being answered. */
  messages: ChatTurn[];
  /** 1 for the first try; retries and recoveries count up. */
  attempt: number;
  /** Aborted on cancel or shutdown; a provider stops producing promptly when it fires. */
  signal: AbortSignal;
}

/** A model that answers with a stream of text pieces (tokens). */
export interface Provider {
  readonly name: string;
  stream(request: ProviderRequest): AsyncIterable<string>;
}

/**
 * A provider failure. `retryable` follows BullMQ's model: 4xx answers are the caller's
 * fault and final; 429, 5xx, timeouts and network errors are worth another attempt.
 */
export class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** Maps an HTTP status from a provider to retryable or not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
}

/** What a user is told when a generation fails for a reason that is not the provider's own words. */
export const GENERATION_FAILED = { code: 'generation_failed', message: 'The answer could not be generated. Please try again.' } as const;

/** The `{code, message}` a failed generation shows: the provider's, or the generic one (never a stack). */
export function failureShownFor(err: unknown): { code: string; message: string } {
  return err instanceof ProviderError ? { code: err.code, message: err.message } : { ...GENERATION_FAILED };
}
