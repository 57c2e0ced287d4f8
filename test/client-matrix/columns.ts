// The columns: how each cell's profile gives its Pod credentials, what the Pod template adds for it,
// where the kubelet-rotated token lives, and which identity the API server must see.
import { PROXY_CONTAINER } from '../../crds/apiaccessprofile.ts';
import { PROXY_MOUNT_PATH } from '../../crds/proxy-sidecar.ts';
import { GRANT, type ColumnId } from './matrix.ts';

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The default mountPath of a profile's kubeconfig volume. */
export const KUBECONFIG_DIR = '/etc/apiaccess';
/** The shortest lifetime TokenRequest allows; the kubelet renews a token at 80 % of it. */
export const TOKEN_SECONDS = 600;
export const CLIENTS_UID = 65532;
/** The volume that replaces the ServiceAccount admission plugin's own at the ServiceAccount path. */
const SHORT_SA_TOKEN_VOLUME = 'short-lived-sa-token';

export interface ColumnSpec {
  readonly id: ColumnId;
  readonly title: string;
  /** The profile's spec for a cell of this column (`secretName`: the cell's kubeconfig Secret). */
  profileSpec(secretName: string): object;
  /** What the Pod template adds (volumes, mounts, pod security context fields). */
  readonly volumes: readonly object[];
  readonly volumeMounts: readonly object[];
  readonly podSecurityContext: Readonly<Record<string, unknown>>;
  /**
   * The file holding the kubelet-rotated token, the container to read it in and the command that
   * prints it there; undefined when no kubelet-rotated token is involved (then `noRotation` says why).
   */
  readonly token?: { readonly path: string; readonly container?: string; readonly read?: readonly string[] };
  readonly noRotation?: string;
  /** How the doc explains the column. */
  readonly description: string;
}

export const COLUMN_SPECS: Record<ColumnId, ColumnSpec> = {
  ServiceAccount: {
    id: 'ServiceAccount',
    title: 'ServiceAccount',
    profileSpec: () => ({ auth: 'ServiceAccount', permissions: GRANT }),
    // The kubelet's default token (expirationSeconds 3607) is extended to a year and renewed only
    // after ~48 min. The same projected volume with a 600 s token, mounted at the same path, makes
    // the ServiceAccount admission plugin skip its own (it never mounts over an existing mount
    // there); the in-cluster code path of every client is unchanged.
    volumes: [
      {
        name: SHORT_SA_TOKEN_VOLUME,
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: TOKEN_SECONDS } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ],
    volumeMounts: [{ name: SHORT_SA_TOKEN_VOLUME, mountPath: SA_DIR, readOnly: true }],
    podSecurityContext: {},
    token: { path: `${SA_DIR}/token` },
    description:
      '`auth: ServiceAccount`: the Pod runs as the profile\'s ServiceAccount with its token mounted, and every client uses its standard in-cluster configuration (`KUBERNETES_SERVICE_HOST`, `' +
      SA_DIR +
      '/{token,ca.crt,namespace}`). **One change for the test:** the kubelet\'s default token (`expirationSeconds: 3607`, which the API server extends to a year) is renewed only after about 48 minutes, too long for a test, so the cell\'s Pod template mounts its own projected volume at `' +
      SA_DIR +
      '` with exactly the default\'s three sources but a 600 s token (`serviceAccountToken` `expirationSeconds: 600`, `kube-root-ca.crt` `ca.crt`, downward API `namespace`). The ServiceAccount admission plugin then adds none of its own (it never mounts over an existing mount at that path); the files, their paths and the clients\' in-cluster code paths are the same.',
  },
  Generated: {
    id: 'Generated',
    title: 'Kubeconfig Generated',
    profileSpec: () => ({ auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: TOKEN_SECONDS }, permissions: GRANT }),
    volumes: [],
    volumeMounts: [],
    podSecurityContext: {},
    token: { path: `${KUBECONFIG_DIR}/token` },
    description:
      '`auth: Kubeconfig` with `kubeconfig: { tokenExpirationSeconds: 600 }` (source `Generated`): the operator\'s kubeconfig ConfigMap, a Pod-bound 600 s token and `kube-root-ca.crt` in one projected volume at `' +
      KUBECONFIG_DIR +
      '`, `KUBECONFIG=' +
      KUBECONFIG_DIR +
      '/kubeconfig`; the kubeconfig holds no credential, it names the token file the kubelet rotates.',
  },
  Secret: {
    id: 'Secret',
    title: 'Kubeconfig ConfigMap/Secret',
    profileSpec: (secretName) => ({ auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: secretName }, permissions: GRANT }),
    volumes: [],
    volumeMounts: [],
    // The Secret's kubeconfig is mounted 0600 (the default for a user's kubeconfig): the non-root
    // client reads it through fsGroup.
    podSecurityContext: { fsGroup: CLIENTS_UID },
    noRotation: 'the user\'s kubeconfig carries a client certificate (reference seed 000): no token, nothing the kubelet rotates',
    description:
      '`auth: Kubeconfig` with `kubeconfig: { source: Secret, name: ... }`: the user\'s own kubeconfig (here, as in reference seed 000, a client certificate signed by the cluster\'s CA, one per cell, with its own `ClusterRole` granting the same `list pods`) mounted from a Secret (0600, read through `fsGroup: 65532`). A ConfigMap source mounts the same file the same way; only the Secret is run. The certificate is the credential: there is no token and nothing rotates, so the rotation part is not applicable.',
  },
  Proxy: {
    id: 'Proxy',
    title: 'Proxy',
    profileSpec: () => ({ auth: 'Proxy', kubeconfig: { tokenExpirationSeconds: TOKEN_SECONDS }, permissions: GRANT }),
    volumes: [],
    volumeMounts: [],
    podSecurityContext: {},
    // Only the sidecar mounts the token; the operator image has Node.js but no coreutils.
    token: { path: `${PROXY_MOUNT_PATH}/token`, container: PROXY_CONTAINER, read: ['node', '-e', `process.stdout.write(require('node:fs').readFileSync('${PROXY_MOUNT_PATH}/token', 'utf8'))`] },
    description:
      '`auth: Proxy` with `kubeconfig: { tokenExpirationSeconds: 600 }`: the native sidecar `apiaccess-proxy` alone mounts the Pod-bound 600 s token (at `' + PROXY_MOUNT_PATH + '`; it re-reads it every 10 s) and forwards only what the profile allows (the refusal is its own 403, the request never reaches the API server); the client container gets `KUBECONFIG` (server `http://127.0.0.1:8001`, no credential) and `KUBERNETES_API_PROXY=http://127.0.0.1:8001`. The audit log shows the sidecar\'s token, bound to the Pod, so the new-token check is the same as in the other columns: the test reads the token file in the sidecar.',
  },
};
