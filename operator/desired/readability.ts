// Whether a container can read the kubeconfig file the kubelet mounts for it, decided from the pod
// template alone. The kubelet writes ConfigMap/Secret/projected files owned by root:root with the
// item's mode; with a pod `fsGroup` it hands the file's group to fsGroup, adds group read, and gives
// every container fsGroup as a supplementary group. So a 0600 kubeconfig is unreadable for a
// non-root container unless the pod sets fsGroup. Only certain verdicts are reported: when the user
// or group comes from the image (not the template), the container is assumed able to read. Pure.
import type { PodTemplate } from './workload.ts';

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
}
interface PodSecurityContext extends SecurityContext {
  fsGroup?: number;
  supplementalGroups?: number[];
}

export interface UnreadableKubeconfig {
  container: string;
  /** What the container runs as, and where that came from (for the message). */
  user: string;
  message: string;
}

const OTHER_READ = 0o004;
const GROUP_READ = 0o040;

/**
 * The selected containers that certainly cannot read `path` (mode `fileMode`), each with a message
 * naming the container, why, and the fix.
 */
export function unreadableKubeconfig(template: PodTemplate | undefined, containers: readonly string[], path: string, fileMode: number): UnreadableKubeconfig[] {
  type Container = { name: string; securityContext?: SecurityContext };
  const spec = (template?.spec ?? {}) as { securityContext?: PodSecurityContext; containers?: Container[]; initContainers?: Container[] };
  const pod = spec.securityContext ?? {};
  if (pod.fsGroup !== undefined || (fileMode & OTHER_READ) !== 0) return [];
  const found: UnreadableKubeconfig[] = [];
  for (const name of containers) {
    // Native sidecars are selected too; they live in initContainers (names are unique across both lists).
    const app = spec.containers?.find((c) => c.name === name);
    const field = app === undefined ? 'initContainers' : 'containers';
    const own = (app ?? spec.initContainers?.find((c) => c.name === name))?.securityContext ?? {};
    const user = effectiveUser(own, pod, `${field}[${name}]`);
    if (user === undefined || user.uid === 0) continue;
    if ((fileMode & GROUP_READ) !== 0 && mayHaveRootGroup(own, pod)) continue;
    found.push({
      container: name,
      user: user.description,
      message:
        `container ${name} runs as ${user.description} and cannot read ${path} ` +
        `(mode ${modeString(fileMode)}, owned by root, no fsGroup): set spec.securityContext.fsGroup in the pod template ` +
        `(for example fsGroup: ${user.uid ?? 65532}), which lets the kubelet give the file to that group`,
    });
  }
  return found;
}

/** The uid a container runs as when the template says; undefined when the image decides (not knowable here). */
function effectiveUser(own: SecurityContext, pod: SecurityContext, field: string): { uid: number | undefined; description: string } | undefined {
  if (own.runAsUser !== undefined) return { uid: own.runAsUser, description: `uid ${own.runAsUser} (${field}.securityContext.runAsUser)` };
  if (pod.runAsUser !== undefined) return { uid: pod.runAsUser, description: `uid ${pod.runAsUser} (spec.securityContext.runAsUser)` };
  if ((own.runAsNonRoot ?? pod.runAsNonRoot) === true) return { uid: undefined, description: 'a non-root user of its image (runAsNonRoot: true)' };
  return undefined;
}

/** True unless the template pins a primary group other than root and no root supplementary group. */
function mayHaveRootGroup(own: SecurityContext, pod: PodSecurityContext): boolean {
  const group = own.runAsGroup ?? pod.runAsGroup;
  // Without runAsGroup the runtime takes the image's group for the user, or root when the image has none.
  if (group === undefined || group === 0) return true;
  return pod.supplementalGroups?.includes(0) ?? false;
}

function modeString(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

