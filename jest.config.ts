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

const config: Config = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test}/**/*.spec.ts'] },
    {
      ...common,
      ...integration,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.int.ts'],
    },
    // Crashes and restarts of Redis, Postgres and processes, each with services of its own.
    { ...common, ...integration, displayName: 'faults', testMatch: ['<rootDir>/test/faults/**/*.fault.ts'] },
    // The demo chat page in headless Chromium (Debian's), against a real API and worker.
    { ...common, ...integration, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e.ts'] },
  ],
};

export default config;
