import {
  API_VERSION,
  KIND,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
} from '../../crds/apiaccessprofile.ts';
import type { ResolvedProfile } from './profile.ts';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/** Labels on every object created for a profile: they find cluster-scoped objects for cleanup. */
export function ownedLabels(profile: Pick<ResolvedProfile, 'name' | 'namespace'>): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [OWNER_NAME_LABEL]: profile.name,
    [OWNER_NAMESPACE_LABEL]: profile.namespace,
  };
}

/** ownerReferences for namespaced objects; none without a uid (static GitOps output has none). */
export function ownerReferences(profile: Pick<ResolvedProfile, 'name' | 'uid'>): OwnerReference[] | undefined {
  if (profile.uid === undefined) return undefined;
  return [{ apiVersion: API_VERSION, kind: KIND, name: profile.name, uid: profile.uid, controller: true, blockOwnerDeletion: true }];
}
