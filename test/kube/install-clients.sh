#!/usr/bin/env bash
# Installs what the integration tests need besides Node and Go, on a fresh Debian machine (root):
# the foreign clients they drive unmodified (curl, Debian's kubectl and Python client) and the tools
# of the control plane and the pod sandbox (openssl, ip, unshare/mount). Idempotent; .ci/run calls it.
#
# Debian's kubectl (package kubernetes-client, 1.20) is unpacked into the cache instead of being
# installed: another package may own /usr/bin/kubectl. test/clients.ts looks for it there.
set -euo pipefail

cache="${APIACCESS_CACHE_DIR:-$HOME/.cache/apiaccess}"
kubectl="$cache/debs/root/usr/bin/kubectl"
export DEBIAN_FRONTEND=noninteractive PATH="$PATH:/usr/sbin:/sbin"

missing=()
[ -x /usr/bin/curl ] || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v ip >/dev/null || missing+=(iproute2)
command -v unshare >/dev/null || missing+=(util-linux)
command -v mount >/dev/null || missing+=(mount)
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || missing+=(python3-kubernetes)

updated=no
apt_update() {
  if [ "$updated" = no ]; then apt-get update -qq; updated=yes; fi
}

if [ "${#missing[@]}" -gt 0 ]; then
  apt_update
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$kubectl" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # apt-get download needs current package lists; a fresh machine has none.
  if ! (cd "$work" && apt-get download kubernetes-client 2>/dev/null); then
    apt_update
    (cd "$work" && apt-get download kubernetes-client)
  fi
  mkdir -p "$cache/debs/root"
  dpkg-deb -x "$work"/kubernetes-client_*.deb "$cache/debs/root"
fi

"$kubectl" version --client=true --short=true
/usr/bin/python3 -c 'import kubernetes; print("python3-kubernetes", kubernetes.__version__)'
