// Who may read the operator's metrics: the way Kubernetes components (and controller-runtime's
// secure metrics) protect theirs. A bearer token is authenticated by TokenReview and the user
// authorized by SubjectAccessReview for `get` on the non-resource URL /metrics, which the install's
// `apiaccess-operator-metrics-reader` ClusterRole grants. Verdicts are cached, keyed by a hash of the
// token (never the token): an allowed one for 5 minutes, a refusal for 30 s (kube-rbac-proxy's
// defaults), so a scraping Prometheus costs two API requests per 5 minutes and token.
import { createHash } from 'node:crypto';
import type { KubeClient } from './kube/client.ts';
import { reviewAccess } from './reconcile/access-verification.ts';

export const METRICS_PATH = '/metrics';
const ALLOWED_TTL_MS = 5 * 60_000;
const REFUSED_TTL_MS = 30_000;
const MAX_CACHED = 1000;

export type MetricsVerdict = { status: 200 } | { status: 401 | 403 | 500; message: string };

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

export class MetricsAuth {
  private readonly verdicts = new Map<string, { at: number; verdict: MetricsVerdict }>();

  constructor(
    private readonly client: KubeClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** The verdict for an Authorization header value (or its absence). */
  async check(authorization: string | undefined): Promise<MetricsVerdict> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return { status: 401, message: 'Unauthorized: a bearer token is required (Authorization: Bearer <token>)' };
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.verdicts.get(key);
    if (cached !== undefined && this.now() - cached.at < (cached.verdict.status === 200 ? ALLOWED_TTL_MS : REFUSED_TTL_MS)) return cached.verdict;
    const verdict = await this.review(token);
    // Failures of the API server itself are not cached: the next scrape asks again.
    if (verdict.status !== 500) {
      this.verdicts.set(key, { at: this.now(), verdict });
      if (this.verdicts.size > MAX_CACHED) this.verdicts.delete(this.verdicts.keys().next().value as string);
    }
    return verdict;
  }

  private async review(token: string): Promise<MetricsVerdict> {
    try {
      const review = await this.client.request<{ status?: TokenReviewStatus }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      const user = review.status?.user;
      if (review.status?.authenticated !== true || user?.username === undefined) return { status: 401, message: 'Unauthorized: the token was not accepted by the API server' };
      const access = await reviewAccess(
        this.client,
        { user: user.username, groups: user.groups ?? [], ...(user.uid ? { uid: user.uid } : {}), ...(user.extra ? { extra: user.extra } : {}), source: 'the bearer token' },
        { verb: 'get', path: METRICS_PATH },
      );
      if (!access.allowed) {
        return { status: 403, message: `Forbidden: ${user.username} may not get ${METRICS_PATH} (bind ClusterRole apiaccess-operator-metrics-reader)` };
      }
      return { status: 200 };
    } catch (error) {
      return { status: 500, message: `Could not review the token: ${(error as Error).message}` };
    }
  }
}
