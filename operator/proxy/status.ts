// The API server's error body (metav1.Status), so that every client library reports the proxy's
// answers as it reports the API server's own: a 403 as Forbidden, a 503 as ServiceUnavailable.
export interface KubeStatus {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure';
  readonly message: string;
  readonly reason: string;
  readonly details?: { readonly name?: string; readonly group?: string; readonly kind?: string };
  readonly code: number;
}

/** Fields in the API server's order; empty details fields are left out, as Go's omitempty does. */
export function failureStatus(code: number, reason: string, message: string, details?: { name?: string; group?: string; kind?: string }): KubeStatus {
  const kept = details === undefined ? undefined : (Object.fromEntries(Object.entries(details).filter(([, v]) => v !== '')) as KubeStatus['details']);
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(kept !== undefined ? { details: kept } : {}), code };
}
