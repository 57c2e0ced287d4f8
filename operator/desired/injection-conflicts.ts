// What in a pod template makes a profile's injection impossible or unsafe, found before anything is
// written (nothing half-applied): checked against the template the user wrote, the operator's own
// fields excluded. Pure.
import { PROXY_CONTAINER } from '../../crds/apiaccessprofile.ts';
import type { InjectionResult } from './pod-template.ts';
import type { ResolvedProfile } from './profile.ts';
import type { PodTemplate } from './workload.ts';

export type InjectionConflict =
  | { kind: 'HostNetwork'; message: string }
  | { kind: 'ProxyPortConflict'; message: string }
  | { kind: 'MountPathConflict'; message: string };

interface LiveContainer {
  name: string;
  ports?: Array<{ containerPort?: number; name?: string }>;
  volumeMounts?: Array<{ name?: string; mountPath: string }>;
}

export function injectionConflicts(profile: ResolvedProfile, template: PodTemplate | undefined, injection: InjectionResult): InjectionConflict[] {
  const spec = (template?.spec ?? {}) as { hostNetwork?: boolean; containers?: LiveContainer[]; initContainers?: LiveContainer[] };
  const out: InjectionConflict[] = [];
  const all = [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c) => c.name !== PROXY_CONTAINER)];
  const proxy = profile.proxy;
  if (proxy !== undefined) {
    if (spec.hostNetwork === true) {
      out.push({ kind: 'HostNetwork', message: `the pod template sets hostNetwork: true, where the proxy's 127.0.0.1:${proxy.port} would be the node's, open to every Pod on the host network; auth Proxy refuses it (use auth Kubeconfig or ServiceAccount)` });
    }
    for (const c of all) {
      const port = c.ports?.find((p) => p.containerPort === proxy.port);
      if (port !== undefined) out.push({ kind: 'ProxyPortConflict', message: `container ${c.name} declares containerPort ${proxy.port}, the proxy's port (spec.proxy.port); choose another spec.proxy.port` });
    }
    const named = (spec.containers ?? []).find((c) => c.name === PROXY_CONTAINER);
    if (named !== undefined) out.push({ kind: 'ProxyPortConflict', message: `container ${PROXY_CONTAINER} already exists among the app containers; the proxy sidecar needs that name` });
  }
  const k = profile.kubeconfig;
  if (k !== undefined && profile.auth !== 'ServiceAccount') {
    const ours = new Set((injection.injection.spec.volumes ?? []).map((v) => v.name));
    const selected = new Set([...(injection.injection.spec.containers ?? []), ...(injection.injection.spec.initContainers ?? [])].map((c) => c.name).filter((n) => n !== PROXY_CONTAINER));
    const root = k.mountPath === '/' ? '' : k.mountPath;
    for (const c of all) {
      if (!selected.has(c.name)) continue;
      for (const m of c.volumeMounts ?? []) {
        if (m.name !== undefined && ours.has(m.name)) continue;
        const path = m.mountPath.replace(/\/+$/, '') || '/';
        if (path === k.mountPath || path.startsWith(`${root}/`)) {
          out.push({
            kind: 'MountPathConflict',
            message: `container ${c.name} already mounts volume ${m.name ?? '?'} at ${m.mountPath}, where the kubeconfig is mounted (spec.kubeconfig.mountPath ${k.mountPath}); choose another spec.kubeconfig.mountPath`,
          });
        }
      }
    }
  }
  return out;
}
