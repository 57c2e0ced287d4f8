// Structured logs with pino. JSON by default (for log pipelines); readable when asked or on a TTY.
import { pino, type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export function createLogger(opts: { level?: string; format?: LogFormat; name?: string } = {}): Logger {
  const format = opts.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const base = {
    name: opts.name ?? 'apiaccess',
    level: opts.level ?? 'info',
    // Defence in depth: credentials are never logged on purpose; these paths are redacted anyway.
    redact: { paths: ['token', '*.token', 'headers.authorization', '*.headers.authorization', 'password', '*.password'], censor: '[REDACTED]' },
  };
  if (format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss', ignore: 'pid,hostname,name' } } });
  }
  return pino(base);
}
