export * from './api-types';
export * from './config';
export * from './errors';
export * from './events';
export * from './queue';
export * from './resume-rule';
export * from './schemas';
export * from './sse-parser';
