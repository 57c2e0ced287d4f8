// What a running local control plane publishes about itself, in `<cluster dir>/cluster.json`. Tests
// receive the path to this file in APIACCESS_TEST_CLUSTER; `npm run cluster -- status` reads it too.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComponentProcess } from './processes.ts';

/** Users with a kubeconfig: `admin` (system:masters), `alice` (no rights), `kip-agent` (client cert, O=apiaccess:kip, no rights). */
export type UserName = 'admin' | 'alice' | 'kip-agent';

/** The cluster's one node, when it has one (`npm run cluster -- up` without `--no-node`). */
export interface NodeInfo {
  /** The Node's name: its address (the API server dials it by name; an IP needs no resolver). */
  readonly name: string;
  /** On a bridge of its own; the API server serves and advertises here too. */
  readonly address: string;
  /** containerd's socket path (`ctr --address`); images go into its `k8s.io` namespace. */
  readonly containerdAddress: string;
  readonly podCIDR: string;
  /** ClusterIP of `kube-dns`, the Pods' nameserver. */
  readonly clusterDNS: string;
  readonly clusterDomain: string;
  /** containerd's sandbox image, imported at start. */
  readonly pauseImage: string;
  readonly kubeletVersion: string;
  readonly corednsVersion: string;
  /** What the host looked like before the node started; `down` restores it. */
  readonly hostStateFile: string;
}

export interface ClusterInfo {
  readonly dir: string;
  /** https://127.0.0.1:<port>, or https://<node address>:<port> when the cluster has a node */
  readonly server: string;
  readonly caFile: string;
  readonly kubeconfigs: Readonly<Record<UserName, string>>;
  /** Bearer tokens of the static-token users. */
  readonly tokens: Readonly<Record<'admin' | 'alice', string>>;
  /** Client certificates by user (CN); `kip-agent` has O=apiaccess:kip. */
  readonly clientCerts: Readonly<Record<'kip-agent', { readonly certFile: string; readonly keyFile: string }>>;
  readonly serviceAccount: {
    /** --service-account-issuer, also the default audience of tokens. */
    readonly issuer: string;
    /** RSA private key (PEM) that signs every ServiceAccount token: tests forge tokens with it. */
    readonly signingKeyFile: string;
    readonly publicKeyFile: string;
  };
  /** ClusterIP of the `kubernetes` Service (10.96.0.1). */
  readonly kubernetesServiceIP: string;
  readonly versions: { readonly kubernetes: string; readonly etcd: string; readonly coredns?: string };
  readonly etcdUrl: string;
  /** The API server's audit log (JSON lines, level Metadata: user, groups, extra such as credential-id). */
  readonly auditLog: string;
  /** The controller manager's client limit when the cluster was started with one (else its defaults, 20/s burst 30). */
  readonly controllerManagerClient?: { readonly qps: number; readonly burst: number };
  readonly node?: NodeInfo;
  readonly processes: readonly ComponentProcess[];
}

export function clusterInfoPath(dir: string): string {
  return join(dir, 'cluster.json');
}

export async function writeClusterInfo(info: ClusterInfo): Promise<void> {
  await writeFile(clusterInfoPath(info.dir), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
}

/** Undefined when the folder holds no control plane. */
export async function readClusterInfo(dir: string): Promise<ClusterInfo | undefined> {
  const text = await readFile(clusterInfoPath(dir), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const info = JSON.parse(text) as ClusterInfo;
  if (typeof info.server !== 'string' || !Array.isArray(info.processes)) {
    throw new Error(`${clusterInfoPath(dir)} is not a cluster description (no server or processes)`);
  }
  return info;
}
