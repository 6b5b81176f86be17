/** What the token function is asked. */
export interface TokenRequest {
  /**
   * True when the server has just refused the previous token (a 401, an `unauthorized`
   * connection refusal, or `session.expired`): return a new one, not a cached one.
   */
  refresh: boolean;
}

/**
 * The user's bearer token (JWT): a string, or a function the client calls for every
 * REST request and every socket (re)connection, so a page can hand out short-lived
 * tokens and renew them (`() => string | Promise<string>` is enough).
 */
export type TokenSource = string | ((request: TokenRequest) => string | Promise<string>);

/** The token source, asked the same way whatever its kind. */
export class Tokens {
  constructor(private readonly source: TokenSource) {}

  /** A function can give a fresh token after a refusal; a fixed string cannot. */
  get refreshable(): boolean {
    return typeof this.source === 'function';
  }

  async get(refresh = false): Promise<string> {
    if (typeof this.source === 'string') return this.source;
    const token = await this.source({ refresh });
    if (typeof token !== 'string') throw new TypeError('the token function did not return a string');
    return token;
  }
}
