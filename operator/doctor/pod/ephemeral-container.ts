// `doctor --pod`: the ephemeral container that runs doctor inside a Pod whose image lacks it. It
// sees what the target container sees: the same env (values and valueFrom), the same volume mounts,
// the Pod's network namespace (so 127.0.0.1 reaches a Proxy-mode sidecar) and, through
// targetContainerName, its process namespace. Pure: the spec from the Pod.
//
// The API (pkg/apis/core/validation, validateEphemeralContainers, Kubernetes 1.37) allows an
// ephemeral container no ports, probes, lifecycle, resources, resizePolicy or restartPolicy, and
// forbids subPath and subPathExpr on its volume mounts (their bind mounts would outlive it): such a
// mount cannot be copied, and the notes say which path doctor will not see.
import type { V1Container, V1EnvVar, V1EphemeralContainer, V1Pod, V1SecurityContext, V1VolumeMount } from '@kubernetes/client-node';
import { PROXY_CONTAINER } from '../../../crds/apiaccessprofile.ts';

/** The operator image's entrypoint (test/images/operator-image.ts); the same binary as the sidecar's. */
export const APIACCESS_ENTRYPOINT = '/usr/local/bin/apiaccess';
export const EPHEMERAL_PREFIX = 'apiaccess-doctor-';
/** The operator image's non-root user, used when the target runs as root (the restricted standard forbids root). */
export const NON_ROOT_UID = 65532;

export interface EphemeralDoctorInput {
  readonly pod: V1Pod;
  /** --container; default: the first app container. */
  readonly container?: string;
  readonly image: string;
  readonly name: string;
  /** Forwarded to `apiaccess doctor --json` (--can, --namespace). */
  readonly doctorArgs: readonly string[];
}

export type EphemeralDoctor =
  | { readonly ok: true; readonly container: V1EphemeralContainer; readonly target: string; readonly notes: readonly string[] }
  | { readonly ok: false; readonly problem: string };

/** `apiaccess-doctor-` and five characters from `random` (lower-case letters and digits: a DNS label). */
export function ephemeralName(random: () => number = Math.random): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let suffix = '';
  for (let i = 0; i < 5; i += 1) suffix += alphabet[Math.floor(random() * alphabet.length)];
  return `${EPHEMERAL_PREFIX}${suffix}`;
}

export function ephemeralDoctor(input: EphemeralDoctorInput): EphemeralDoctor {
  const { pod } = input;
  const where = `Pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  const containers = pod.spec?.containers ?? [];
  // Native sidecars are targets too (they run beside the app); the Proxy-mode sidecar is one.
  const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
  const target = input.container === undefined ? containers[0] : [...containers, ...sidecars].find((c) => c.name === input.container);
  if (target === undefined) {
    const names = [...containers.map((c) => c.name), ...sidecars.map((c) => `${c.name} (native sidecar)`)];
    return { ok: false, problem: `${where} has no container ${input.container ?? '(none at all)'}; its containers: ${names.join(', ') || 'none'}` };
  }
  const notes: string[] = [];
  if (target.name === PROXY_CONTAINER) notes.push(`${target.name} is the Proxy-mode sidecar itself: doctor sees its token and CA, not what the app containers see (leave --container out for the app's view)`);
  const volumeMounts: V1VolumeMount[] = [];
  for (const mount of target.volumeMounts ?? []) {
    if (mount.subPath || mount.subPathExpr) {
      notes.push(`not copied: volume ${mount.name} at ${mount.mountPath} (subPath${mount.subPath ? ` ${mount.subPath}` : `Expr ${mount.subPathExpr}`}): the API forbids subPath in ephemeral containers, so doctor cannot see ${mount.mountPath}`);
      continue;
    }
    // Read-only whatever the app has: doctor only reads, and must not be able to change the Pod's data.
    volumeMounts.push({ name: mount.name, mountPath: mount.mountPath, readOnly: true });
  }
  const container: V1EphemeralContainer = {
    name: input.name,
    image: input.image,
    imagePullPolicy: 'IfNotPresent',
    targetContainerName: target.name,
    command: [APIACCESS_ENTRYPOINT],
    args: ['doctor', '--json', ...input.doctorArgs],
    ...(target.env?.length ? { env: target.env.map((e) => copyEnv(e, target.name)) } : {}),
    ...(target.envFrom?.length ? { envFrom: structuredClone(target.envFrom) } : {}),
    ...(volumeMounts.length ? { volumeMounts } : {}),
    securityContext: securityContext(pod, target, notes),
    // The report is read from the logs; a doctor that crashes leaves its last lines here too.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  return { ok: true, container, target: target.name, notes };
}

/**
 * A copy of the env var. A resourceFieldRef without containerName means "this container": in the
 * ephemeral container (no resources of its own) it must name the target to give the same value.
 */
function copyEnv(env: V1EnvVar, target: string): V1EnvVar {
  const copy = structuredClone(env);
  const field = copy.valueFrom?.resourceFieldRef;
  if (field !== undefined && !field.containerName) field.containerName = target;
  return copy;
}

/**
 * The restricted Pod Security Standard's container fields, as the app's user where that is known
 * (file permission findings must be the app's): runAsUser/runAsGroup from the container, else the
 * Pod. Root is not allowed: then the image's non-root user, with a note.
 */
function securityContext(pod: V1Pod, target: V1Container, notes: string[]): V1SecurityContext {
  const uid = target.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  const gid = target.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup;
  const context: V1SecurityContext = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  if (uid === 0) {
    notes.push(`container ${target.name} runs as root; doctor runs as uid ${NON_ROOT_UID} (the restricted Pod Security Standard), so it may be refused files that root can read`);
    context.runAsUser = NON_ROOT_UID;
  } else if (uid !== undefined) {
    context.runAsUser = uid;
  }
  if (gid !== undefined) context.runAsGroup = gid;
  return context;
}
