// The rules file's text to rules, with zod at the boundary: an invalid file is a message naming the
// field, never a crash, so that the proxy can exit with it at start or keep its last good rules later.
import { ProxyRulesFileSchema, type ProxyRulesFile } from './rules-file.ts';
import type { Parsed } from './watched-file.ts';

export function parseRulesText(text: string): Parsed<ProxyRulesFile> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `is not JSON (${(error as Error).message})` };
  }
  const result = ProxyRulesFileSchema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((issue) => {
    const field = issue.path.length === 0 ? '(the document)' : issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    return `field ${field}: ${issue.message}`;
  });
  return { ok: false, error: issues.join('; ') };
}
