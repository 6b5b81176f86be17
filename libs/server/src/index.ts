// Server-only code shared by the API and the worker. Never imported by libs/client.
export * from './db/database';
export * from './db/migrate';
export * from './db/retry';
export * from './generation/frame-coalescer';
export * from './live/live-stream-store';
export * from './live/socketio-packet';
export * from './lifecycle/shutdown';
export * from './logging/logger';
export * from './presence/presence-store';
export * from './providers/create-provider';
export * from './providers/provider';
export * from './providers/simulated-provider';
export * from './redis/connection';
export * from './redis/keys';
export * from './streams/dto';
export * from './streams/stream-finisher';
export * from './streams/stream-store';
