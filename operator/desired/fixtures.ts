// Test fixtures: a resolved profile from a spec, the way the operator and the construct build one.
import { parseSpec, type ApiAccessProfileSpecInput } from '../../crds/apiaccessprofile.ts';
import { resolveProfile, type ResolvedProfile } from './profile.ts';

export function profile(spec: ApiAccessProfileSpecInput, opts: { name?: string; namespace?: string; uid?: string } = {}): ResolvedProfile {
  const parsed = parseSpec(spec);
  if (!parsed.ok) throw new Error(parsed.message);
  const base = { name: opts.name ?? 'agent', namespace: opts.namespace ?? 'team-a', spec: parsed.spec };
  return resolveProfile(opts.uid === undefined ? base : { ...base, uid: opts.uid });
}
