// Prometheus metrics of the operator (prom-client), served on --metrics-bind-address.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly kubeRequests = new Counter({
    name: 'apiaccess_kube_requests_total',
    help: 'Requests the operator sent to the API server, by verb (GET, LIST, WATCH, POST, PATCH, DELETE, ...), resource and status code',
    labelNames: ['verb', 'resource', 'code'],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'apiaccess_reconcile_total',
    help: 'Reconciles by controller and result',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'apiaccess_reconcile_duration_seconds',
    help: 'Reconcile duration by controller',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly leader = new Gauge({ name: 'apiaccess_leader', help: '1 while this replica leads', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

/** "LIST"/"WATCH" instead of "GET" for collection reads, the way apiserver metrics name them. */
export function requestVerb(method: string, path: string): string {
  if (method !== 'GET') return method;
  const url = new URL(path, 'https://x');
  if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') return 'WATCH';
  const segments = url.pathname.split('/').filter(Boolean);
  // /api/v1/<plural>, /api/v1/namespaces/<ns>/<plural>, /apis/<g>/<v>/<plural>, .../namespaces/<ns>/<plural>
  const base = segments[0] === 'api' ? 2 : 3;
  const rest = segments.slice(base);
  const collection = rest[0] === 'namespaces' ? rest.length === 1 || rest.length === 3 : rest.length === 1;
  return collection ? 'LIST' : 'GET';
}

/** The resource a request path addresses (plural plus subresource), for metric labels. */
export function requestResource(path: string): string {
  const segments = new URL(path, 'https://x').pathname.split('/').filter(Boolean);
  const rest = segments.slice(segments[0] === 'api' ? 2 : 3);
  const parts = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  if (parts[0] === 'namespaces' && parts.length <= 2) return 'namespaces';
  return parts.length >= 3 ? `${parts[0]}/${parts[2]}` : (parts[0] ?? 'unknown');
}
