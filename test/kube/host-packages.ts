// The Debian packages the local cluster and its node run on (test/kube/install-packages.sh installs
// the same list for CI). As root they are installed on first use, naming each; otherwise the error
// names the exact `apt-get install` command.
import { ensureDebianPackages } from '../images/debian.ts';

/**
 * containerd 1.6 (CRI) and runc; the bridge, host-local, portmap and loopback CNI plugins;
 * iptables (kube-proxy, portmap, the kubelet) with nftables' `nft` to remove the tables iptables-nft
 * leaves; conntrack (kube-proxy clears UDP entries); iproute2 for the node address; mount and
 * util-linux (umount, nsenter, unshare); openssl for the cluster's certificates; curl for tests that
 * act as a client inside a Pod's network namespace.
 */
export const HOST_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'nftables',
  'conntrack',
  'iproute2',
  'mount',
  'util-linux',
  'openssl',
  'curl',
] as const;

export async function ensureHostPackages(): Promise<void> {
  await ensureDebianPackages(HOST_PACKAGES);
}
