import type { Config } from 'jest';

// Types are checked once by `tsc --noEmit` (npm test runs it first), so ts-jest only transpiles.
const transform: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }],
  // Redis scripts are .lua files imported as strings (esbuild's text loader in the build).
  '^.+\\.lua$': '<rootDir>/test/support/text-transform.js',
};
const moduleNameMapper = {
  '^@bgs/shared$': '<rootDir>/libs/shared/src/index.ts',
  '^@bgs/shared/browser$': '<rootDir>/libs/shared/src/browser.ts',
  '^@bgs/server$': '<rootDir>/libs/server/src/index.ts',
  '^@bgs/client$': '<rootDir>/libs/client/src/index.ts',
};
const common = { rootDir: '.', transform, moduleNameMapper, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'json', 'lua'] };

const integration = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/jest-timeout.ts'],
};

/** What runs on Redis Cluster too: every path that writes frames, publishes room events or decides notifications. */
const CLUSTER_SUITES = [
  'libs/server/src/live/live-buffer.int.ts',
  'libs/server/src/generation/run-generation.int.ts',
  'apps/worker/src/generation/generation-processor.int.ts',
  'apps/worker/src/notifications/notification-decider.int.ts',
  'test/integration/background-streaming.int.ts',
  'test/integration/generation-lifecycle.int.ts',
  'test/integration/notifications.int.ts',
  'test/integration/notification-listeners.int.ts',
  'test/integration/scale-out.int.ts',
  'test/integration/thread-deleted.int.ts',
  'test/integration/ai-sdk-chat.int.ts',
];

const config: Config = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test}/**/*.spec.ts'] },
    {
      ...common,
      ...integration,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.int.ts'],
    },
    // The generation and notification suites again, unchanged, on the shared test Redis Cluster
    // (3 masters + 3 replicas): REDIS_CLUSTER_NODES for the processes, a Cluster client for the rest.
    {
      ...common,
      ...integration,
      displayName: 'cluster',
      setupFiles: ['<rootDir>/test/support/on-redis-cluster.ts'],
      testMatch: [...CLUSTER_SUITES.map((suite) => `<rootDir>/${suite}`), '<rootDir>/test/cluster/**/*.cluster.ts'],
    },
    // Crashes and restarts of Redis, Postgres and processes, each with services of its own.
    { ...common, ...integration, displayName: 'faults', testMatch: ['<rootDir>/test/faults/**/*.fault.ts'] },
    // The demo chat page in headless Chromium (Debian's), against a real API and worker.
    { ...common, ...integration, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e.ts'] },
  ],
};

export default config;
