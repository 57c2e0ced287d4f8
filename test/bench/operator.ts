// The operator under test: the synthesized install's Deployment, scaled by the bench, and its
// leader's /metrics, scraped from the Pod IP with a token bound to the install's metrics-reader
// ClusterRole (as a Prometheus in the cluster scrapes it; never unauthenticated).
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../../operator/kube/client.ts';
import { holderPod, OPERATOR_NAMESPACE, OPERATOR_SA, waitForOperator } from '../install.ts';
import { scrape } from '../metrics.ts';
import { now, until, type PhaseContext } from './phase.ts';
import { difference, isCountedRequest, requestCounts, total, type RequestCounts } from './report.ts';

const SELECTOR = 'app.kubernetes.io/name=apiaccess-operator';
const LEASE_PATH = `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/apiaccess-operator`;
const DEPLOYMENT_PATH = `/apis/apps/v1/namespaces/${OPERATOR_NAMESPACE}/deployments/${OPERATOR_SA}`;
export const BENCH_FIELD_MANAGER = 'apiaccess-bench';

type Pod = KubeObject & {
  status?: {
    podIP?: string;
    containerStatuses?: Array<{ ready: boolean; restartCount: number; imageID?: string; lastState?: { terminated?: { reason?: string; exitCode?: number } } }>;
  };
};

export interface OperatorHealth {
  pod: string;
  restarts: number;
  /** Why the container last ended (OOMKilled, Error, ...), if it restarted. */
  lastTermination?: string;
  imageID?: string;
}

export interface Quiet {
  counts: RequestCounts;
  /** When the counted requests last grew (the scrape that saw it), in now() time. */
  lastActivityAt: number;
}

export class OperatorUnderTest {
  private leader: { name: string; url: string } | undefined;

  constructor(
    private readonly admin: KubeClient,
    private readonly token: string,
  ) {}

  /** Scales the operator Deployment; 0 waits until its Pods are gone, more until a ready replica leads. */
  async scale(replicas: number, ctx: Pick<PhaseContext, 'signal'>): Promise<string | undefined> {
    await this.admin.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: OPERATOR_SA, namespace: OPERATOR_NAMESPACE }, spec: { replicas } }, { fieldManager: BENCH_FIELD_MANAGER, force: true });
    this.leader = undefined;
    if (replicas === 0) {
      await until('the operator Pods to be gone', async () => (await this.pods()).length === 0, ctx, { intervalMs: 250, progress: () => 'Pods still there' });
      return undefined;
    }
    const name = await waitForOperator(this.admin, 300_000);
    await this.locate(name);
    return name;
  }

  /** The leader's Pod name and metrics URL, found once per scale-up. */
  async locate(name?: string): Promise<{ name: string; url: string }> {
    if (this.leader !== undefined && name === undefined) return this.leader;
    const lease = await this.admin.get<{ spec?: { holderIdentity?: string } }>(LEASE_PATH);
    const podName = name ?? holderPod(lease?.spec?.holderIdentity);
    const pod = podName === undefined ? undefined : await this.admin.get<Pod>(`/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods/${podName}`);
    if (pod?.status?.podIP === undefined) throw new Error(`No leader Pod with an IP (Lease holder ${JSON.stringify(lease?.spec?.holderIdentity)})`);
    this.leader = { name: pod.metadata.name, url: `https://${pod.status.podIP}:8443/metrics` };
    return this.leader;
  }

  async metricsText(): Promise<string> {
    const { url } = await this.locate();
    const got = await scrape(url, this.token);
    if (got.status !== 200) throw new Error(`GET ${url} answered ${got.status}: ${got.body.slice(0, 200)}`);
    return got.body;
  }

  async counts(): Promise<RequestCounts> {
    return requestCounts(await this.metricsText());
  }

  /**
   * Waits until the operator's counted requests (all but watches and Lease requests) have not grown
   * for `quietMs`, scraping every second.
   */
  async quiet(ctx: Pick<PhaseContext, 'signal'>, quietMs = 5_000): Promise<Quiet> {
    let last = await this.counts();
    let lastActivityAt = now();
    for (;;) {
      if (ctx.signal.aborted) throw new Error(`${(ctx.signal.reason as Error).message} waiting for the operator to be quiet for ${quietMs / 1000} s`);
      await sleep(1000, undefined, { signal: ctx.signal }).catch(() => undefined);
      const current = await this.counts();
      if (total(difference(last, current), isCountedRequest) > 0) {
        last = current;
        lastActivityAt = now();
      } else if (now() - lastActivityAt >= quietMs) {
        return { counts: current, lastActivityAt };
      }
    }
  }

  async health(): Promise<OperatorHealth> {
    const { name } = await this.locate();
    const pod = await this.admin.get<Pod>(`/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods/${name}`);
    const status = pod?.status?.containerStatuses?.[0];
    const reason = status?.lastState?.terminated?.reason;
    return {
      pod: name,
      restarts: status?.restartCount ?? 0,
      ...(reason !== undefined ? { lastTermination: reason } : {}),
      ...(status?.imageID !== undefined ? { imageID: status.imageID } : {}),
    };
  }

  async replicas(): Promise<number | undefined> {
    return (await this.admin.get<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT_PATH))?.spec?.replicas;
  }

  private async pods(): Promise<Pod[]> {
    return (await this.admin.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, { query: { labelSelector: SELECTOR } })).items;
  }
}
