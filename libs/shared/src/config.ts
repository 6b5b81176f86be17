import { z } from 'zod';

/** `true/false`, `1/0`, `yes/no`, `on/off`, in any case (`TRUE`, `Off`). */
const bool = (fallback: boolean) =>
  z.stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] }).default(fallback);

const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const url = (protocols: string[]) =>
  z
    .string()
    .url()
    .refine((u) => protocols.some((p) => u.startsWith(`${p}://`)), {
      message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });

/** Every environment variable the processes read, with its default. */
const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: int(3000, 0, 65535),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The worker's Prometheus endpoint (`GET /metrics`); unset: none; 0: any free port, logged. The API serves /metrics on PORT. */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),

    // Not WHATWG-parsed: pg also takes socket forms such as `postgresql://user@/db?host=/run/postgresql`.
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must start with postgres:// or postgresql://'),
    DATABASE_POOL_SIZE: int(20, 1, 1_000),
    REDIS_URL: url(['redis', 'rediss']).optional(),
    /** Seed nodes of a Redis Cluster, `host:port,host:port,…`; when set it replaces REDIS_URL. */
    REDIS_CLUSTER_NODES: z
      .string()
      .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'must be host:port,host:port,…')
      .transform((list) => list.split(',').map((node) => {
        const i = node.lastIndexOf(':');
        return { host: node.slice(0, i), port: Number(node.slice(i + 1)) };
      }))
      .optional(),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'letters, digits, _ . - only (braces are added where Redis Cluster needs them)')
      .default('bgs'),

    AUTH_SECRET: z.string().min(16, 'must be at least 16 characters'),
    AUTH_DEV_TOKENS: bool(false),
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

    BACKGROUND_STREAMING: bool(true),
    PROVIDER: z.enum(['simulated', 'openai']).default('simulated'),
    MODEL: z.string().min(1).default('simulated-1'),
    OPENAI_BASE_URL: url(['http', 'https']).default('http://127.0.0.1:11434/v1'),
    OPENAI_API_KEY: z.string().default(''),
    PROVIDER_TIMEOUT_MS: int(60_000, 100),
    SIMULATED_ANSWER_TOKENS: int(120, 1, 1_000_000),
    SIMULATED_TOKENS_PER_SECOND: z.coerce.number().positive().max(1_000_000).default(40),

    FRAME_MS: int(50, 1, 10_000),
    FRAME_MAX_CHARS: int(2048, 1, 1_000_000),
    CHECKPOINT_MS: int(5_000, 100),
    LIVE_STREAM_TTL_S: int(300, 1),

    WORKER_ROLE: z.enum(['all', 'generator', 'listener']).default('all'),
    WORKER_CONCURRENCY: int(200, 1, 10_000),
    GENERATION_ATTEMPTS: int(3, 1, 20),
    GENERATION_BACKOFF_MS: int(1_000, 0),
    COMPLETED_JOB_RETENTION_S: int(3_600, 0),
    LOCK_DURATION_MS: int(30_000, 500),
    STALLED_INTERVAL_MS: int(30_000, 200),
    MAX_STALLED_COUNT: int(1, 0, 100),
    EVENTS_MAX_LEN: int(10_000, 100),
    SWEEP_INTERVAL_MS: int(5_000, 100),

    PRESENCE_TTL_MS: int(30_000, 300),
    RATE_LIMIT_SENDS: int(30, 1),
    RATE_LIMIT_WINDOW_MS: int(60_000, 100),
    MAX_BODY_BYTES: int(64 * 1024, 1024),
    MAX_MESSAGE_CHARS: int(32_000, 1),
    HTTP_KEEP_ALIVE_MS: int(65_000, 1_000),
    SHUTDOWN_GRACE_MS: int(10_000, 0),
  })
  // Runs even when other variables are bad (`when`), so one start names every problem;
  // a variable that failed its own check holds its raw string here, hence the `=== true`.
  .superRefine(
    (env, ctx) => {
      if (env.BACKGROUND_STREAMING === true && env.REDIS_URL === undefined && env.REDIS_CLUSTER_NODES === undefined) {
        ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'or REDIS_CLUSTER_NODES is required when BACKGROUND_STREAMING is on' });
      }
      if (env.AUTH_DEV_TOKENS === true && env.NODE_ENV === 'production') {
        ctx.addIssue({ code: 'custom', path: ['AUTH_DEV_TOKENS'], message: 'must be off when NODE_ENV=production' });
      }
    },
    { when: () => true },
  );

export type Env = z.infer<typeof envSchema>;

/** The validated configuration of one process, grouped by concern. */
export interface Config {
  env: Env['NODE_ENV'];
  /** `keepAliveMs`: how long an idle client connection stays open for its next request. */
  http: { host: string; port: number; maxBodyBytes: number; maxMessageChars: number; keepAliveMs: number };
  logLevel: Env['LOG_LEVEL'];
  /** Where a worker serves its metrics; null: it serves none. */
  metrics: { workerPort: number | null };
  databaseUrl: string;
  /** Postgres connections per process. */
  databasePoolSize: number;
  redis: { target: RedisTarget; prefix: string } | null;
  auth: { secret: string; devTokens: boolean; adminToken: string | null };
  backgroundStreaming: boolean;
  provider: {
    kind: Env['PROVIDER'];
    model: string;
    openai: { baseUrl: string; apiKey: string };
    timeoutMs: number;
    simulated: { tokens: number; tokensPerSecond: number };
  };
  frames: { frameMs: number; maxChars: number; checkpointMs: number; liveTtlSeconds: number };
  worker: {
    role: Env['WORKER_ROLE'];
    concurrency: number;
    attempts: number;
    backoffMs: number;
    /** How long a completed job stays in Redis (for Bull Board); 0: removed as it completes. */
    completedJobRetentionS: number;
    lockDurationMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
    eventsMaxLen: number;
    sweepIntervalMs: number;
  };
  presenceTtlMs: number;
  rateLimit: { sends: number; windowMs: number };
  shutdownGraceMs: number;
}

/** Where Redis is: one server, or the seed nodes of a Redis Cluster. */
export type RedisTarget = { kind: 'server'; url: string } | { kind: 'cluster'; nodes: Array<{ host: string; port: number }> };

function redisConfig(e: Env): Config['redis'] {
  const target: RedisTarget | null = e.REDIS_CLUSTER_NODES
    ? { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES }
    : e.REDIS_URL ? { kind: 'server', url: e.REDIS_URL } : null;
  return target && { target, prefix: e.REDIS_PREFIX };
}

/** Thrown when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses and validates the process environment. Empty (or blank) strings count as unset,
 * so `FOO= npm start` falls back to the default instead of failing.
 */
export function loadConfig(source: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'} ${i.message}`));
  }
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    http: { host: e.HOST, port: e.PORT, maxBodyBytes: e.MAX_BODY_BYTES, maxMessageChars: e.MAX_MESSAGE_CHARS, keepAliveMs: e.HTTP_KEEP_ALIVE_MS },
    logLevel: e.LOG_LEVEL,
    metrics: { workerPort: e.METRICS_PORT ?? null },
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redis: e.BACKGROUND_STREAMING ? redisConfig(e) : null,
    auth: { secret: e.AUTH_SECRET, devTokens: e.AUTH_DEV_TOKENS, adminToken: e.ADMIN_TOKEN ?? null },
    backgroundStreaming: e.BACKGROUND_STREAMING,
    provider: {
      kind: e.PROVIDER,
      model: e.MODEL,
      openai: { baseUrl: e.OPENAI_BASE_URL.replace(/\/+$/, ''), apiKey: e.OPENAI_API_KEY },
      timeoutMs: e.PROVIDER_TIMEOUT_MS,
      simulated: { tokens: e.SIMULATED_ANSWER_TOKENS, tokensPerSecond: e.SIMULATED_TOKENS_PER_SECOND },
    },
    frames: {
      frameMs: e.FRAME_MS,
      maxChars: e.FRAME_MAX_CHARS,
      checkpointMs: e.CHECKPOINT_MS,
      liveTtlSeconds: e.LIVE_STREAM_TTL_S,
    },
    worker: {
      role: e.WORKER_ROLE,
      concurrency: e.WORKER_CONCURRENCY,
      attempts: e.GENERATION_ATTEMPTS,
      backoffMs: e.GENERATION_BACKOFF_MS,
      completedJobRetentionS: e.COMPLETED_JOB_RETENTION_S,
      lockDurationMs: e.LOCK_DURATION_MS,
      stalledIntervalMs: e.STALLED_INTERVAL_MS,
      maxStalledCount: e.MAX_STALLED_COUNT,
      eventsMaxLen: e.EVENTS_MAX_LEN,
      sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    },
    presenceTtlMs: e.PRESENCE_TTL_MS,
    rateLimit: { sends: e.RATE_LIMIT_SENDS, windowMs: e.RATE_LIMIT_WINDOW_MS },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
  };
}
