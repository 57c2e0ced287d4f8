#!/usr/bin/env bash
# Regenerates the wrapper modules for a new Kubernetes release (and CoreDNS, when given):
#   test/kube/gen-gomod.sh v1.37.2 v3.7.0 [v1.15.0]
# k8s.io/kubernetes requires its staging modules at v0.0.0 (replaced by local paths in its own repo),
# so a module that depends on it must replace each of them with the published v0.Y.Z.
set -euo pipefail
k8s="${1:?usage: gen-gomod.sh <k8s version, e.g. v1.34.4> <etcd version, e.g. v3.6.4>}"
etcd="${2:?usage: gen-gomod.sh <k8s version> <etcd version pinned by that release> [coredns version]}"
coredns="${3:-}"
staging="v0.${k8s#v1.}"
here="$(cd "$(dirname "$0")" && pwd)"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

# Outside any module, `go mod download` fetches k8s.io/kubernetes' own go.mod, which lists the staging modules.
modfile="$(cd / && go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
cd "$here/kubernetes"
rm -f go.sum
{
  printf 'module apiaccess.dev/localcluster\n\ngo 1.26.0\n\ngodebug default=go1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$k8s"
  grep -o 'k8s.io/[a-z0-9-]* => ./staging' "$modfile" | cut -d' ' -f1 | sort -u |
    while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  printf ')\n'
} >go.mod
go mod tidy

cd "$here/etcd"
rm -f go.sum
printf 'module apiaccess.dev/localcluster/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$etcd" >go.mod
go mod tidy

if [ -n "$coredns" ]; then
  cd "$here/coredns"
  rm -f go.sum
  printf 'module apiaccess.dev/localcluster/coredns\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns %s\n' "$coredns" >go.mod
  go mod tidy
fi
