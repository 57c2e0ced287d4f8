// The projected ServiceAccount token as read from its file: one line, surrounding whitespace
// dropped. An empty file is refused, so a kubelet write in progress never sends `Bearer `.
import type { Parsed } from './watched-file.ts';

/** How often the token and rules files are checked for a change (the contract: at most every 10 s). */
export const FILE_CHECK_INTERVAL_MS = 10_000;

export function parseTokenText(text: string): Parsed<string> {
  const token = text.trim();
  if (token === '') return { ok: false, error: 'is empty' };
  if (/[\s\0-\x1f\x7f]/.test(token)) return { ok: false, error: 'holds whitespace or control characters, which no bearer token has' };
  return { ok: true, value: token };
}
