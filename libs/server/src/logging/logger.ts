import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs on stdout; `component` says which process wrote the line. */
export function createLogger(component: string, level: string): Logger {
  return pino({ level, base: { component, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
