// Reads the operator's /metrics the way a Prometheus in the cluster does: over HTTPS with the bearer
// token of a ServiceAccount bound to the install's metrics-reader ClusterRole, the operator's
// self-signed certificate not verified (kubebuilder's ServiceMonitor default, `insecureSkipVerify`).
import { request } from 'node:https';
import type { KubeClient } from '../operator/kube/client.ts';

export const METRICS_READER = 'apiaccess-operator-metrics-reader';
const SCRAPER_NAMESPACE = 'monitoring';
const SCRAPER = 'prometheus';

export interface Scrape {
  status: number;
  body: string;
}

/** GET https://<address>/metrics with `token` (or none). */
export async function scrape(url: string, token: string | undefined): Promise<Scrape> {
  return await new Promise<Scrape>((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A token of ServiceAccount monitoring/prometheus, bound to the metrics-reader ClusterRole (created once). */
export async function prometheusToken(admin: KubeClient): Promise<string> {
  const fm = { fieldManager: 'apiaccess-test', force: true };
  await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SCRAPER_NAMESPACE } }, fm);
  await admin.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SCRAPER, namespace: SCRAPER_NAMESPACE } }, fm);
  await admin.apply(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${SCRAPER_NAMESPACE}-${SCRAPER}-metrics` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: METRICS_READER },
      subjects: [{ kind: 'ServiceAccount', name: SCRAPER, namespace: SCRAPER_NAMESPACE }],
    },
    fm,
  );
  return await serviceAccountToken(admin, SCRAPER_NAMESPACE, SCRAPER);
}

export async function serviceAccountToken(admin: KubeClient, namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
  const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
  });
  return tr.status.token;
}

/** Sum of apiaccess_kube_requests_total for the given verbs in a scrape. */
export function requestsIn(text: string, verbs: readonly string[]): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^apiaccess_kube_requests_total\{([^}]*)\} (\d+)/.exec(line);
    const verb = /verb="([^"]+)"/.exec(match?.[1] ?? '')?.[1];
    if (match && verb !== undefined && verbs.includes(verb)) total += Number(match[2]);
  }
  return total;
}
