#!/usr/bin/env bash
# Installs the Debian packages the local cluster and its node run on, on a fresh Debian machine
# (root), naming each; otherwise prints the exact command to run. Idempotent; .ci/run calls it, and
# `npm start`/`npm test` install the same list themselves (HOST_PACKAGES in test/kube/host-packages.ts,
# which a test keeps equal to this one).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive PATH="$PATH:/usr/sbin:/sbin"

packages=(containerd runc containernetworking-plugins iptables nftables conntrack iproute2 mount util-linux openssl curl)

missing=()
for pkg in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "Debian packages present: ${packages[*]}"
  exit 0
fi
command="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian package(s) ${missing[*]}: run as root: $command" >&2
  exit 1
fi
echo "Installing Debian package(s): ${missing[*]}"
# A fresh machine has no package lists yet.
apt-get install -y -qq --no-install-recommends "${missing[@]}" || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
