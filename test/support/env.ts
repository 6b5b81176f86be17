/** What `npm test` (or the jest global setup) prepared: see scripts/lib/test-env.mjs. */
export function testEnv() {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\``);
    return value;
  };
  return {
    pgAdminUrl: need('TEST_PG_ADMIN_URL'),
    templateDb: need('TEST_TEMPLATE_DB'),
    redisUrl: need('TEST_REDIS_URL'),
  };
}

export const TEST_AUTH_SECRET = 'test-secret-with-enough-length-0123456789';
