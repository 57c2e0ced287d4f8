// `apiaccess preview PROFILE -n NS`: what the operator would create or change for a profile, without
// changing anything. Every object goes through a server-side dry-run apply, so admission, RBAC and
// field-ownership conflicts show up exactly as they would for the operator.
import { stringify } from 'yaml';
import { FIELD_MANAGER, parseSpec, PROFILE_LABEL, type PolicyRule } from '../../crds/apiaccessprofile.ts';
import { defaultOperatorImage } from '../desired/operator-image.ts';
import { podTemplateInjection } from '../desired/pod-template.ts';
import { desiredObjects } from '../desired/owned-objects.ts';
import { resolveProfile } from '../desired/profile.ts';
import { contains } from '../desired/subset.ts';
import { carriesInjection, isWorkloadKind, selectableContainers, support, WORKLOAD_KINDS, workloadApplyConfig, type WorkloadKind } from '../desired/workload.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { collectionPath, objectPath, RESOURCES } from '../kube/resources.ts';
import { cliClient } from './client.ts';
import { CommandExit, EXIT_FAILURE } from '../exit.ts';

type Desired = KubeObject & { apiVersion: string; kind: string };

export interface PreviewItem {
  object: string;
  /** create | change | unchanged | skipped | error */
  action: 'create' | 'change' | 'unchanged' | 'skipped' | 'error';
  detail?: string;
  /** The fields the operator would apply (its whole apply configuration). */
  applied?: object;
}

export async function preview(client: KubeClient, namespace: string, name: string): Promise<PreviewItem[]> {
  const live = await client.get<KubeObject & { spec?: unknown }>(objectPath(RESOURCES.ApiAccessProfile, namespace, name));
  if (live === undefined) throw new CommandExit(EXIT_FAILURE, `ApiAccessProfile ${namespace}/${name} not found`);
  const parsed = parseSpec(live.spec);
  if (!parsed.ok) throw new CommandExit(EXIT_FAILURE, `ApiAccessProfile ${namespace}/${name} has an invalid spec: ${parsed.message}`);
  const profile = resolveProfile({ name, namespace, ...(live.metadata.uid ? { uid: live.metadata.uid } : {}), spec: parsed.spec });
  const items: PreviewItem[] = [];
  // Proxy mode: the rules file expands the referenced ClusterRoles, read as you (the operator reads its cache).
  const clusterRoleRules = new Map<string, PolicyRule[] | undefined>();
  if (profile.proxy !== undefined) {
    for (const role of profile.permissions.clusterRoles) {
      clusterRoleRules.set(role, (await client.get<KubeObject & { rules?: PolicyRule[] }>(objectPath(RESOURCES.ClusterRole, undefined, role)))?.rules ?? undefined);
    }
  }
  for (const object of desiredObjects(profile, clusterRoleRules)) items.push(await previewObject(client, object));
  const proxyImage = process.env.APIACCESS_PROXY_IMAGE || defaultOperatorImage();
  for (const kind of Object.keys(WORKLOAD_KINDS) as WorkloadKind[]) {
    const list = await client.request<{ items: KubeObject[] }>('GET', collectionPath(RESOURCES[kind], namespace), { query: { labelSelector: `${PROFILE_LABEL}=${name}` } });
    for (const workload of list.items) {
      const obj = { ...workload, apiVersion: WORKLOAD_KINDS[kind].apiVersion, kind };
      const label = `${kind} ${namespace}/${workload.metadata.name}`;
      const supported = support(obj);
      if (!supported.supported || !isWorkloadKind(kind)) {
        items.push({ object: label, action: 'skipped', detail: supported.supported ? '' : supported.reason });
        continue;
      }
      const { injection, missingContainers } = podTemplateInjection(profile, selectableContainers(obj), { proxyImage });
      if (missingContainers.length > 0) items.push({ object: label, action: 'skipped', detail: `spec.containers names ${missingContainers.join(', ')}, which it does not have` });
      else if (carriesInjection(obj, name, injection)) items.push({ object: label, action: 'unchanged' });
      else items.push(await dryRun(client, workloadApplyConfig({ kind, namespace, name: workload.metadata.name }, name, injection), label, 'change'));
    }
  }
  return items;
}

async function previewObject(client: KubeClient, object: Desired): Promise<PreviewItem> {
  const label = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
  const resource = RESOURCES[object.kind as keyof typeof RESOURCES];
  const live = await client.get<KubeObject>(objectPath(resource, object.metadata.namespace, object.metadata.name));
  if (live !== undefined && contains(live, object)) return { object: label, action: 'unchanged' };
  return dryRun(client, object, label, live === undefined ? 'create' : 'change');
}

async function dryRun(client: KubeClient, object: Desired, label: string, action: 'create' | 'change'): Promise<PreviewItem> {
  try {
    await client.apply(object, { fieldManager: FIELD_MANAGER, force: false, dryRun: true });
    return { object: label, action, applied: object };
  } catch (error) {
    return { object: label, action: 'error', detail: (error as Error).message, applied: object };
  }
}

/** Readable YAML: a comment line per object, then what would be applied. */
export function renderPreview(items: readonly PreviewItem[]): string {
  return items
    .map((item) => {
      const head = `# ${item.object}: ${item.action === 'error' ? 'would fail' : `would ${item.action === 'unchanged' ? 'stay unchanged' : item.action === 'skipped' ? 'be skipped' : item.action}`}${item.detail ? ` (${item.detail})` : ''}`;
      return item.applied !== undefined && item.action !== 'unchanged' ? `${head}\n${stringify(item.applied)}` : `${head}\n`;
    })
    .join('---\n');
}

/** The `apiaccess preview` action: prints the preview of one profile. */
export async function previewCommand(profile: string, flags: { namespace: string; kubeconfig?: string }): Promise<void> {
  const client = cliClient(flags.kubeconfig);
  try {
    process.stdout.write(renderPreview(await preview(client, flags.namespace, profile)));
  } finally {
    client.close();
  }
}
