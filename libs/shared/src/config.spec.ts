import { ConfigError, loadConfig } from './config';

const valid = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/bgs',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AUTH_SECRET: 'a-secret-of-at-least-16-chars',
};

/** The problems a bad environment is refused with (one line per bad variable). */
function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toContain('Invalid configuration');
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig', () => {
  it('fills every default from a minimal environment', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      env: 'development',
      http: { host: '127.0.0.1', port: 3000, maxBodyBytes: 64 * 1024, maxMessageChars: 32_000, keepAliveMs: 65_000 },
      logLevel: 'info',
      databaseUrl: valid.DATABASE_URL,
      redis: { target: { kind: 'server', url: valid.REDIS_URL }, prefix: 'bgs' },
      auth: { secret: valid.AUTH_SECRET, devTokens: false, adminToken: null },
      backgroundStreaming: true,
      provider: {
        kind: 'simulated',
        model: 'simulated-1',
        openai: { baseUrl: 'http://127.0.0.1:11434/v1', apiKey: '' },
        timeoutMs: 60_000,
        simulated: { tokens: 120, tokensPerSecond: 40 },
      },
      frames: { frameMs: 50, maxChars: 2048, checkpointMs: 5_000, liveTtlSeconds: 300 },
      worker: {
        role: 'all',
        concurrency: 200,
        attempts: 3,
        backoffMs: 1_000,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
        maxStalledCount: 1,
        eventsMaxLen: 10_000,
        sweepIntervalMs: 5_000,
      },
      presenceTtlMs: 30_000,
      rateLimit: { sends: 30, windowMs: 60_000 },
      shutdownGraceMs: 10_000,
    });
  });

  it('reads numbers, enums and URLs it is given', () => {
    const config = loadConfig({
      ...valid,
      PORT: '0',
      FRAME_MS: '20',
      SIMULATED_TOKENS_PER_SECOND: '12.5',
      PROVIDER: 'openai',
      OPENAI_BASE_URL: 'http://127.0.0.1:8080/v1///',
      WORKER_ROLE: 'listener',
      REDIS_PREFIX: 'bgs-test.1',
    });
    expect(config.http.port).toBe(0);
    expect(config.frames.frameMs).toBe(20);
    expect(config.provider.simulated.tokensPerSecond).toBe(12.5);
    expect(config.provider.kind).toBe('openai');
    expect(config.provider.openai.baseUrl).toBe('http://127.0.0.1:8080/v1');
    expect(config.worker.role).toBe('listener');
    expect(config.redis?.prefix).toBe('bgs-test.1');
  });

  it('accepts the socket form of a Postgres URL that pg understands', () => {
    expect(loadConfig({ ...valid, DATABASE_URL: 'postgresql://bgs@/bgs?host=/run/postgresql' }).databaseUrl).toContain('host=/run/postgresql');
  });

  it.each([
    ['FRAME_MS', 'abc'],
    ['FRAME_MS', '0'],
    ['FRAME_MS', '1.5'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['METRICS_PORT', '70000'],
    ['DATABASE_URL', 'mysql://root@127.0.0.1/bgs'],
    ['DATABASE_URL', '127.0.0.1:5432'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', 'not a url'],
    ['REDIS_PREFIX', '{bull}'],
    ['AUTH_SECRET', 'too-short'],
    ['ADMIN_TOKEN', 'short'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'verbose'],
    ['PROVIDER', 'anthropic'],
    ['OPENAI_BASE_URL', 'ftp://127.0.0.1/v1'],
    ['SIMULATED_TOKENS_PER_SECOND', '0'],
    ['SIMULATED_TOKENS_PER_SECOND', 'Infinity'],
    ['WORKER_ROLE', 'both'],
    ['MAX_BODY_BYTES', '10'],
    ['HTTP_KEEP_ALIVE_MS', '10'],
    ['BACKGROUND_STREAMING', 'maybe'],
    ['AUTH_DEV_TOKENS', '2'],
  ])('refuses %s=%s with a message naming the variable', (name, value) => {
    const problems = problemsOf({ ...valid, [name]: value });
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem.startsWith(`${name} `)).toBe(true);
  });

  it.each(['DATABASE_URL', 'AUTH_SECRET'])('refuses a missing %s', (name) => {
    const problems = problemsOf({ ...valid, [name]: undefined });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${name} `))]);
  });

  it('names every bad variable at once, the cross-variable rules included', () => {
    const problems = problemsOf({ FRAME_MS: 'abc', PORT: '70000' });
    expect(problems.map((p) => p.split(' ')[0]).sort()).toEqual(['AUTH_SECRET', 'DATABASE_URL', 'FRAME_MS', 'PORT', 'REDIS_URL']);
  });

  it('takes a Redis Cluster from REDIS_CLUSTER_NODES, in place of REDIS_URL', () => {
    const nodes = '127.0.0.1:7001,127.0.0.1:7002,redis-3.internal:7003';
    expect(loadConfig({ ...valid, REDIS_CLUSTER_NODES: nodes }).redis).toEqual({
      target: { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 7001 }, { host: '127.0.0.1', port: 7002 }, { host: 'redis-3.internal', port: 7003 }] },
      prefix: 'bgs',
    });
    expect(loadConfig({ ...valid, REDIS_URL: undefined, REDIS_CLUSTER_NODES: '127.0.0.1:7001' }).redis?.target.kind).toBe('cluster');
    expect(problemsOf({ ...valid, REDIS_CLUSTER_NODES: '127.0.0.1' })).toEqual(['REDIS_CLUSTER_NODES must be host:port,host:port,…']);
    expect(problemsOf({ ...valid, REDIS_CLUSTER_NODES: '127.0.0.1:7001, 127.0.0.1:7002' })).toEqual(['REDIS_CLUSTER_NODES must be host:port,host:port,…']);
  });

  it('requires REDIS_URL when background streaming is on, and not when it is off', () => {
    expect(problemsOf({ ...valid, REDIS_URL: undefined })).toEqual(['REDIS_URL or REDIS_CLUSTER_NODES is required when BACKGROUND_STREAMING is on']);
    const off = loadConfig({ ...valid, REDIS_URL: undefined, BACKGROUND_STREAMING: 'false' });
    expect(off.backgroundStreaming).toBe(false);
    expect(off.redis).toBeNull();
  });

  it('opens no Redis when background streaming is off, even with a REDIS_URL set', () => {
    expect(loadConfig({ ...valid, BACKGROUND_STREAMING: '0' }).redis).toBeNull();
  });

  it('refuses dev tokens in production, and allows them elsewhere', () => {
    expect(problemsOf({ ...valid, AUTH_DEV_TOKENS: '1', NODE_ENV: 'production' })).toEqual([
      'AUTH_DEV_TOKENS must be off when NODE_ENV=production',
    ]);
    expect(loadConfig({ ...valid, AUTH_DEV_TOKENS: '1', NODE_ENV: 'test' }).auth.devTokens).toBe(true);
    expect(loadConfig({ ...valid, AUTH_DEV_TOKENS: 'off', NODE_ENV: 'production' }).auth.devTokens).toBe(false);
  });

  it('counts empty and blank strings as unset, so defaults apply', () => {
    const config = loadConfig({ ...valid, PORT: '', FRAME_MS: '  ', LOG_LEVEL: '', BACKGROUND_STREAMING: '', ADMIN_TOKEN: '' });
    expect(config.http.port).toBe(3000);
    expect(config.frames.frameMs).toBe(50);
    expect(config.logLevel).toBe('info');
    expect(config.backgroundStreaming).toBe(true);
    expect(config.auth.adminToken).toBeNull();
    expect(problemsOf({ ...valid, AUTH_SECRET: '' })).toEqual([expect.stringMatching(/^AUTH_SECRET /)]);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['TRUE', true],
    ['On', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
    ['FALSE', false],
  ])('reads the boolean %s as %s', (text, expected) => {
    const config = loadConfig({ ...valid, BACKGROUND_STREAMING: text, AUTH_DEV_TOKENS: text });
    expect(config.backgroundStreaming).toBe(expected);
    expect(config.auth.devTokens).toBe(expected);
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ ...valid, PATH: '/usr/bin', HOME: '/root' })).not.toThrow();
  });
});
