// The local node's configuration files, as pure functions of where things live: containerd's
// config.toml, the CNI network, the KubeletConfiguration, the KubeProxyConfiguration and CoreDNS's
// Corefile. Everything a component would otherwise put under /var/lib, /etc or /opt points into the
// cluster folder, so that `down` can remove it with the folder.
import { join } from 'node:path';

/** The node's own address: on a bridge with no ports (the VM kernel has no dummy interface driver). */
export const NODE_ADDRESS = '172.31.254.1';
export const NODE_BRIDGE = 'apiaccess0';
/** The Pod network: one bridge, one /24 on this one node. */
export const POD_BRIDGE = 'apiaccess-cni0';
export const POD_CIDR = '10.244.0.0/24';
export const CNI_NETWORK = 'apiaccess';
/** ClusterIP of the `kube-dns` Service, which forwards to CoreDNS on the node address. */
export const CLUSTER_DNS_IP = '10.96.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const KUBELET_PORT = 10250;
/** Debian's runc and CNI plugins (containerd finds its shim on PATH). */
export const RUNC_BINARY = '/usr/sbin/runc';
export const CNI_BIN_DIR = '/usr/lib/cni';

export interface NodePaths {
  readonly containerdConfig: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  /** The CRI socket: what the kubelet and `ctr --address` use (cluster.json `node.containerdAddress`). */
  readonly containerdAddress: string;
  /** runc's state (`runc --root`), per containerd namespace underneath. */
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly cniIpamDir: string;
  readonly kubeletRoot: string;
  readonly kubeletConfig: string;
  readonly podLogsDir: string;
  readonly kubeProxyConfig: string;
  readonly corefile: string;
}

export function nodePaths(dir: string): NodePaths {
  const node = join(dir, 'node');
  return {
    containerdConfig: join(node, 'containerd.toml'),
    containerdRoot: join(node, 'containerd', 'root'),
    containerdState: join(node, 'containerd', 'state'),
    containerdAddress: join(node, 'containerd', 'containerd.sock'),
    runcRoot: join(node, 'containerd', 'runc'),
    cniConfDir: join(node, 'cni', 'net.d'),
    cniIpamDir: join(node, 'cni', 'ipam'),
    kubeletRoot: join(node, 'kubelet'),
    kubeletConfig: join(node, 'kubelet.yaml'),
    podLogsDir: join(node, 'pod-logs'),
    kubeProxyConfig: join(node, 'kube-proxy.yaml'),
    corefile: join(node, 'Corefile'),
  };
}

export function containerdConfig(paths: NodePaths, sandboxImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${toml(paths.containerdRoot)}
state = ${toml(paths.containerdState)}
# opt would create /opt/containerd; these snapshotters are unused here.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = ${toml(paths.containerdAddress)}

[ttrpc]
  address = ${toml(`${paths.containerdAddress}.ttrpc`)}

[debug]
  address = ""

[metrics]
  address = ""

# Unused (CRI runs io.containerd.runc.v2), but the tasks service needs it loaded; its default root is /run/containerd/runc.
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = ${toml(`${paths.runcRoot}-v1`)}

[${cri}]
  sandbox_image = ${toml(sandboxImage)}
  # The VM's capability bounding set lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below its own.
  restrict_oom_score_adj = true
  # Network namespaces under the state folder instead of /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [${cri}.cni]
    bin_dir = ${toml(CNI_BIN_DIR)}
    conf_dir = ${toml(paths.cniConfDir)}
    max_conf_num = 1

  [${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        BinaryName = ${toml(RUNC_BINARY)}
        Root = ${toml(paths.runcRoot)}
        SystemdCgroup = false
`;
}

/** bridge + host-local IPAM (state in the cluster folder) + portmap for hostPort; containerd adds loopback. */
export function cniConfList(paths: NodePaths): object {
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: POD_BRIDGE,
        isGateway: true,
        // Pods reach only this machine (the node address, Services): nothing to masquerade.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: POD_CIDR }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: paths.cniIpamDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

export interface KubeletFiles {
  readonly caFile: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly healthzPort: number;
}

export function kubeletConfig(paths: NodePaths, files: KubeletFiles): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_ADDRESS,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: files.healthzPort,
    containerRuntimeEndpoint: `unix://${paths.containerdAddress}`,
    // This VM has cgroup v1 only and no swap accounting of its own.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: files.caFile },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: files.servingCert,
    tlsPrivateKeyFile: files.servingKey,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    clusterDNS: [CLUSTER_DNS_IP],
    clusterDomain: CLUSTER_DOMAIN,
    // No upstream resolver for Pods: cluster names come from CoreDNS, and nothing outside is reachable.
    resolvConf: '',
    podLogsDir: paths.podLogsDir,
    // A test machine's disk is often fuller than a production node's: never evict for it.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    maxPods: 110,
    registerNode: true,
    staticPodPath: '',
  };
}

export interface KubeProxyFiles {
  readonly kubeconfig: string;
  readonly healthzPort: number;
  readonly metricsPort: number;
}

export function kubeProxyConfig(files: KubeProxyFiles): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    hostnameOverride: NODE_ADDRESS,
    bindAddress: NODE_ADDRESS,
    clusterCIDR: POD_CIDR,
    clientConnection: { kubeconfig: files.kubeconfig },
    healthzBindAddress: `127.0.0.1:${files.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${files.metricsPort}`,
    nodePortAddresses: [`${NODE_ADDRESS}/32`],
    // Zero means "leave the host's value": these conntrack sysctls are machine-wide.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // Otherwise kube-proxy sets net.ipv4.conf.all.route_localnet=1 for NodePorts on 127.0.0.1.
    iptables: { localhostNodePorts: false, masqueradeAll: false },
  };
}

export interface CorefilePorts {
  readonly kubeconfig: string;
  readonly healthPort: number;
  readonly readyPort: number;
}

/** Cluster names only: no `forward`, since nothing outside this machine is reachable. */
export function corefile(ports: CorefilePorts): string {
  return `.:53 {
    bind ${NODE_ADDRESS}
    errors
    health 127.0.0.1:${ports.healthPort}
    ready 127.0.0.1:${ports.readyPort}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${ports.kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
}
`;
}

function toml(value: string): string {
  return JSON.stringify(value);
}
