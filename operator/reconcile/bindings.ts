// What the workload reconciler found for each labelled workload, read by the profile reconciler for
// its counts and WorkloadsBound condition. In memory: after a restart every workload is reconciled
// again at start-up, which rebuilds it. Until a profile's every cached workload has been reconciled
// once, its counts are partial: the profile reconciler does not write status from them (a restart
// of a converged system must not flip WorkloadsBound on the way).
import type { WorkloadBinding } from './profile-status.ts';

export interface BindingRecord extends WorkloadBinding {
  namespace: string;
  profile: string;
}

export class BindingRegistry {
  private readonly byWorkload = new Map<string, BindingRecord>();
  /** "namespace/profile" -> workload key -> record: the counts of one profile without a scan of all. */
  private readonly byProfile = new Map<string, Map<string, BindingRecord>>();
  /** Workload keys reconciled at least once by this process, whatever the outcome. */
  private readonly seen = new Set<string>();

  /** @param onProfileChanged called with "namespace/profile" whenever a profile's bindings change */
  constructor(private readonly onProfileChanged: (profileKey: string) => void) {}

  set(workloadKey: string, record: BindingRecord): void {
    this.seen.add(workloadKey);
    const before = this.byWorkload.get(workloadKey);
    if (before !== undefined) this.unindex(workloadKey, before);
    this.byWorkload.set(workloadKey, record);
    const profileKey = `${record.namespace}/${record.profile}`;
    const records = this.byProfile.get(profileKey) ?? new Map<string, BindingRecord>();
    records.set(workloadKey, record);
    this.byProfile.set(profileKey, records);
    if (before !== undefined && (before.profile !== record.profile || before.namespace !== record.namespace)) {
      this.onProfileChanged(`${before.namespace}/${before.profile}`);
    }
    if (before?.state !== record.state || before.message !== record.message || before.profile !== record.profile) {
      this.onProfileChanged(`${record.namespace}/${record.profile}`);
    }
  }

  /**
   * The workload counts for no profile (unlabelled, inherited, gone, or its profile unusable).
   * @param labelled "namespace/profile" its labels name, told once when this is its first outcome
   */
  delete(workloadKey: string, labelled?: string): void {
    const first = !this.seen.has(workloadKey);
    this.seen.add(workloadKey);
    const before = this.byWorkload.get(workloadKey);
    if (before !== undefined) {
      this.byWorkload.delete(workloadKey);
      this.unindex(workloadKey, before);
      this.onProfileChanged(`${before.namespace}/${before.profile}`);
    }
    if (first && labelled !== undefined && labelled !== `${before?.namespace}/${before?.profile}`) this.onProfileChanged(labelled);
  }

  /** Forgets a workload that no longer exists (its key may be reused by a new object). */
  forget(workloadKey: string): void {
    this.delete(workloadKey);
    this.seen.delete(workloadKey);
  }

  /** Whether every one of these workloads has been reconciled at least once. */
  allSeen(workloadKeys: readonly string[]): boolean {
    return workloadKeys.every((k) => this.seen.has(k));
  }

  forProfile(namespace: string, profile: string): WorkloadBinding[] {
    return [...(this.byProfile.get(`${namespace}/${profile}`)?.values() ?? [])]
      .map(({ ref, state, message }) => ({ ref, state, message }))
      .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  }

  private unindex(workloadKey: string, record: BindingRecord): void {
    const profileKey = `${record.namespace}/${record.profile}`;
    const records = this.byProfile.get(profileKey);
    records?.delete(workloadKey);
    if (records?.size === 0) this.byProfile.delete(profileKey);
  }
}
