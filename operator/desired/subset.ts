// Whether a live object already has every field the operator would apply: the API server adds
// defaults and other managers add fields, so equality is the wrong test; "contains" is the right one.
export function contains(actual: unknown, wanted: unknown): boolean {
  if (wanted === null || typeof wanted !== 'object') return actual === wanted;
  if (actual === null || typeof actual !== 'object') return false;
  if (Array.isArray(wanted)) {
    return Array.isArray(actual) && actual.length === wanted.length && wanted.every((w, i) => contains(actual[i], w));
  }
  return Object.entries(wanted).every(([k, v]) => v === undefined || contains((actual as Record<string, unknown>)[k], v));
}
