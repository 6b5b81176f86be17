// Bundles each process into dist/ with esbuild: tsconfig paths resolved, npm packages left
// external. Also bundles libs/client for the browser (dist/client/bgs-client.js, ESM) with
// its metafile next to it, which test/integration/client-bundle.int.ts checks, and the
// demo chat page the API serves at `/` (dist/demo/: the page's own code bundled with
// libs/client, its HTML and CSS), and the AI SDK example page it serves at
// `/examples/ai-sdk` (dist/examples/ai-sdk/: @ai-sdk/vue on Vue), held to the same
// browser-only check.
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const nodeEntries = {
  'api/main': 'apps/api/src/main.ts',
  'worker/main': 'apps/worker/src/main.ts',
  'tools/migrate': 'libs/server/src/db/migrate-cli.ts',
};

export const browserClient = {
  entry: path.join(root, 'libs/client/src/index.ts'),
  outfile: path.join(root, 'dist/client/bgs-client.js'),
};

/** What the browser bundle may contain: our browser-safe libs and socket.io-client's own dependencies. */
const BROWSER_SOURCES = ['libs/client/src/', 'libs/shared/src/'];
const BROWSER_PACKAGES = new Set(['socket.io-client', 'engine.io-client', 'socket.io-parser', 'engine.io-parser', '@socket.io/component-emitter', 'debug', 'ms']);
// zod stays out on purpose: browser code imports @bgs/shared/browser (types and pure functions only).
/** Named in the error when they appear: the server side of the system. */
const SERVER_PACKAGES = /^(bullmq|ioredis|@prisma\/.*|prisma|express|pg|pg-.*|pino|prom-client|socket\.io|engine\.io|ws|jsonwebtoken|@socket\.io\/redis-.*|@bull-board\/.*|notepack\.io|xmlhttprequest-ssl)$/;
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The demo chat page: its code may add only its own folder (browser code, no server module) to the client's. */
export const demoPage = {
  entry: path.join(root, 'apps/api/src/demo/page/chat-page.client.ts'),
  outfile: path.join(root, 'dist/demo/chat.js'),
  // Beside dist/demo, not in it: the API serves that folder as it is.
  metafilePath: path.join(root, 'dist/demo-page.meta.json'),
  sources: ['apps/api/src/demo/page/', ...BROWSER_SOURCES],
  assets: ['apps/api/src/demo/page/index.html', 'apps/api/src/demo/page/chat.css'],
};

/**
 * The AI SDK example page: @ai-sdk/vue's Chat and the `ai` package's DefaultChatTransport on
 * Vue (render functions: Vue's runtime-only build), none of our libs. `packages` are what
 * those pull in (zod, v3 and v4, is most of the bundle: the `ai` package validates stream
 * chunks with it). @ai-sdk/gateway, @vercel/oidc (its browser build) and @opentelemetry/api
 * are imported by `ai` but tree-shaken out: 0 bytes of the output.
 */
export const aiSdkExamplePage = {
  entry: path.join(root, 'apps/api/src/examples/ai-sdk/chat-example.client.ts'),
  outfile: path.join(root, 'dist/examples/ai-sdk/chat-example.js'),
  // Beside dist/examples, not in it: the API serves dist/examples/ai-sdk as it is.
  metafilePath: path.join(root, 'dist/examples-ai-sdk.meta.json'),
  sources: ['apps/api/src/examples/ai-sdk/'],
  packages: [
    'vue', '@vue/runtime-dom', '@vue/runtime-core', '@vue/reactivity', '@vue/shared',
    'ai', '@ai-sdk/vue', '@ai-sdk/provider-utils', '@ai-sdk/provider', 'swrv', 'zod', 'eventsource-parser',
    '@ai-sdk/gateway', '@vercel/oidc', '@opentelemetry/api',
  ],
  assets: ['apps/api/src/examples/ai-sdk/index.html', 'apps/api/src/examples/ai-sdk/chat-example.css'],
  // Vue's compile-time flags (esm-bundler builds): no Options API, no devtools or hydration details in production.
  define: { 'process.env.NODE_ENV': '"production"', __VUE_OPTIONS_API__: 'false', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
};

const packageOf = (input) => {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m ? m[1] : null;
};

/**
 * Why a browser bundle's metafile is not browser-safe: one line per offending input or
 * import (Node built-ins, server packages, apps/ or libs/server code, anything else not
 * on the allowlist). `sources` are the folders of ours it may hold (default: libs/client
 * and libs/shared); `packages` are npm packages it may hold besides socket.io-client's.
 * Empty when the bundle is fine.
 */
export function browserBundleViolations(metafile, { sources = BROWSER_SOURCES, packages = [] } = {}) {
  const allowed = new Set([...BROWSER_PACKAGES, ...packages]);
  const problems = [];
  for (const [input, info] of Object.entries(metafile.inputs)) {
    const pkg = packageOf(input);
    if (pkg) {
      if (SERVER_PACKAGES.test(pkg)) problems.push(`${input}: server-only package ${pkg}`);
      else if (!allowed.has(pkg)) problems.push(`${input}: package ${pkg} is not on the browser allowlist`);
    } else if (!sources.some((dir) => input.startsWith(dir))) {
      problems.push(/^(apps|libs\/server)\//.test(input) ? `${input}: server code` : `${input}: outside ${sources.join(', ')}`);
    }
    for (const imp of info.imports ?? []) {
      if (NODE_BUILTINS.has(imp.path)) problems.push(`${input}: imports Node built-in ${imp.path}`);
      else if (imp.external) problems.push(`${input}: leaves ${imp.path} to be loaded at run time`);
    }
  }
  return [...new Set(problems)];
}

/**
 * Bundles a client entry for the browser and writes `<outfile>` plus its metafile
 * (`<name>.meta.json` unless `metafilePath` says where). Node built-ins are marked
 * external so that a stray import shows up in the metafile (and in
 * `browserBundleViolations`) instead of stopping the build with a resolver error.
 */
export async function buildBrowserBundle({ entry = browserClient.entry, outfile = browserClient.outfile, metafilePath = outfile.replace(/\.js$/, '.meta.json'), define = {} } = {}) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    external: [...NODE_BUILTINS],
    define,
    metafile: true,
    minify: true,
    sourcemap: true,
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'silent',
  });
  fs.writeFileSync(metafilePath, JSON.stringify(result.metafile));
  return { metafile: result.metafile, metafilePath, bytes: fs.statSync(outfile).size };
}

/** The demo chat page: its script (with libs/client in it) and its HTML and CSS, into dist/demo/. */
export async function buildDemoPage() {
  const bundle = await buildBrowserBundle(demoPage);
  for (const asset of demoPage.assets) fs.copyFileSync(path.join(root, asset), path.join(path.dirname(demoPage.outfile), path.basename(asset)));
  return bundle;
}

/** The AI SDK example page: its script (Vue and the AI SDK in it) and its HTML and CSS, into dist/examples/ai-sdk/. */
export async function buildAiSdkExamplePage() {
  const bundle = await buildBrowserBundle(aiSdkExamplePage);
  for (const asset of aiSdkExamplePage.assets) fs.copyFileSync(path.join(root, asset), path.join(path.dirname(aiSdkExamplePage.outfile), path.basename(asset)));
  return bundle;
}

export async function buildAll(log = console.log) {
  const esbuild = await import('esbuild');
  const started = Date.now();
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(nodeEntries).map(([out, src]) => [out, path.join(root, src)])),
    outdir: path.join(root, 'dist'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    // Redis scripts live in .lua files and are bundled as strings.
    loader: { '.lua': 'text' },
    sourcemap: true,
    tsconfig: path.join(root, 'tsconfig.base.json'),
    logLevel: 'warning',
  });
  const client = await buildBrowserBundle();
  const page = await buildDemoPage();
  const example = await buildAiSdkExamplePage();
  // The tests fail on these; the build says so at once, for whoever runs `npm start`.
  for (const [file, problems] of [
    ['dist/client/bgs-client.js', browserBundleViolations(client.metafile)],
    ['dist/demo/chat.js', browserBundleViolations(page.metafile, { sources: demoPage.sources })],
    ['dist/examples/ai-sdk/chat-example.js', browserBundleViolations(example.metafile, aiSdkExamplePage)],
  ]) {
    if (problems.length > 0) log(`WARNING: ${file} is not browser-safe:\n  ${problems.join('\n  ')}`);
  }
  log(`built dist/ in ${Date.now() - started} ms (browser client ${Math.round(client.bytes / 1024)} KiB, demo page ${Math.round(page.bytes / 1024)} KiB, AI SDK example ${Math.round(example.bytes / 1024)} KiB)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildAll().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
