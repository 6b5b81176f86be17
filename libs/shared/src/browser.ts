// What browser code may import from libs/shared: types, constants and pure functions,
// without zod or the config parser (the client bundle stays small).
export * from './api-types';
export * from './errors';
export * from './events';
export * from './resume-rule';
export * from './sse-parser';
