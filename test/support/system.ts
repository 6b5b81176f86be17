import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './database';
import { TEST_AUTH_SECRET } from './env';
import { httpClient, type HttpClient } from './http';
import { spawnBundle, type LogLine, type ManagedProcess } from './processes';
import { testRedisEnv } from './redis-target';

export interface SystemOptions {
  apis?: number;
  workers?: number;
  /** Extra environment for every process (FRAME_MS, LOCK_DURATION_MS…). */
  env?: Record<string, string>;
  /** A Redis of the test's own (fault tests restart it); defaults to the shared test Redis (or cluster). */
  redisUrl?: string;
  /** A Redis Cluster of the test's own (failover tests kill a master): its seed nodes. */
  redisClusterNodes?: string;
}

/**
 * A whole system for one test file: its own database and Redis key prefix, real API
 * and worker processes from dist/. Processes can be added, killed and restarted.
 */
export class TestSystem {
  readonly apis: ManagedProcess[] = [];
  readonly workers: ManagedProcess[] = [];
  readonly prefix = `t${randomBytes(4).toString('hex')}`;
  private seq = 0;

  private constructor(
    readonly db: TestDatabase,
    readonly env: Record<string, string>,
  ) {}

  static async start(options: SystemOptions = {}): Promise<TestSystem> {
    const db = await createTestDatabase();
    const system = new TestSystem(db, {});
    Object.assign(system.env, {
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      ...(options.redisClusterNodes ? { REDIS_CLUSTER_NODES: options.redisClusterNodes } : options.redisUrl ? { REDIS_URL: options.redisUrl } : testRedisEnv()),
      REDIS_PREFIX: system.prefix,
      AUTH_SECRET: TEST_AUTH_SECRET,
      AUTH_DEV_TOKENS: '1',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      SWEEP_INTERVAL_MS: '1000',
      ...options.env,
    });
    try {
      await Promise.all([
        ...Array.from({ length: options.apis ?? 1 }, () => system.addApi()),
        ...Array.from({ length: options.workers ?? 1 }, () => system.addWorker()),
      ]);
    } catch (err) {
      await system.stop();
      throw err;
    }
    return system;
  }

  /** Starts another API instance and waits until it listens. */
  async addApi(env: Record<string, string> = {}): Promise<ManagedProcess> {
    const api = spawnBundle(`api${++this.seq}`, 'api', { ...this.env, ...env });
    this.apis.push(api);
    const line = await this.started(api, this.apis, 'listening');
    (api as ManagedProcess & { url: string }).url = `http://127.0.0.1:${line.port as number}`;
    return api;
  }

  /** Starts another worker and waits until it is ready. */
  async addWorker(env: Record<string, string> = {}): Promise<ManagedProcess> {
    const worker = spawnBundle(`worker${++this.seq}`, 'worker', { ...this.env, ...env });
    this.workers.push(worker);
    await this.started(worker, this.workers, 'worker ready');
    return worker;
  }

  /** Waits for `starting` to log `ready`; one that fails to start is no part of the system (its error is the caller's). */
  private async started(starting: ManagedProcess, list: ManagedProcess[], ready: string): Promise<LogLine> {
    try {
      return await starting.waitForLog((l) => l.msg === ready, 20_000, ready);
    } catch (err) {
      await starting.stop();
      list.splice(list.indexOf(starting), 1);
      throw err;
    }
  }

  /** Base URL of API instance `i`. */
  url(i = 0): string {
    return (this.apis[i] as ManagedProcess & { url: string }).url;
  }

  /** A dev token for `userId` (through the API, as a chat app would get one). */
  async token(userId: string): Promise<string> {
    const res = await httpClient(this.url()).post('/api/dev/token', { userId });
    if (res.status !== 200) throw new Error(`dev token: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.token as string;
  }

  /** An authenticated REST client for `userId` on API instance `i`. */
  async client(userId: string, i = 0): Promise<HttpClient & { token: string }> {
    const token = await this.token(userId);
    return Object.assign(httpClient(this.url(i), token), { token });
  }

  /**
   * Stops every process and drops the database; then fails if a process crashed during
   * the test (exited with an error by itself), so a crash is reported as one and not
   * only through the timeouts it caused.
   */
  async stop(): Promise<void> {
    const processes = [...this.apis, ...this.workers];
    const crashed = processes.filter((p) => p.crashed);
    await Promise.all(processes.map((p) => p.stop()));
    await this.db.drop();
    if (crashed.length > 0) {
      throw new Error(crashed.map((p) => `${p.name} crashed (${p.child.signalCode ?? `exit code ${p.child.exitCode}`}); last lines:\n${p.lastLines(20)}`).join('\n\n'));
    }
  }
}
