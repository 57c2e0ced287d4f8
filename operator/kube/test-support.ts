// Helpers for this folder's tests: a pino logger whose records the test can inspect.
import { pino, type Logger } from 'pino';

export interface CapturedLogger {
  logger: Logger;
  records: Array<Record<string, unknown>>;
}

export function captureLogger(level: pino.LevelWithSilent = 'debug'): CapturedLogger {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
