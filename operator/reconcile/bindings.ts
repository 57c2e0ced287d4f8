// What the workload reconciler found for each labelled workload, read by the profile reconciler for
// its counts and WorkloadsBound condition. In memory: after a restart every workload is reconciled
// again at start-up, which rebuilds it.
import type { WorkloadBinding } from './profile-status.ts';

export interface BindingRecord extends WorkloadBinding {
  namespace: string;
  profile: string;
}

export class BindingRegistry {
  private readonly byWorkload = new Map<string, BindingRecord>();

  /** @param onProfileChanged called with "namespace/profile" whenever a profile's bindings change */
  constructor(private readonly onProfileChanged: (profileKey: string) => void) {}

  set(workloadKey: string, record: BindingRecord): void {
    const before = this.byWorkload.get(workloadKey);
    this.byWorkload.set(workloadKey, record);
    if (before !== undefined && (before.profile !== record.profile || before.namespace !== record.namespace)) {
      this.onProfileChanged(`${before.namespace}/${before.profile}`);
    }
    if (before?.state !== record.state || before.message !== record.message || before.profile !== record.profile) {
      this.onProfileChanged(`${record.namespace}/${record.profile}`);
    }
  }

  delete(workloadKey: string): void {
    const before = this.byWorkload.get(workloadKey);
    if (before === undefined) return;
    this.byWorkload.delete(workloadKey);
    this.onProfileChanged(`${before.namespace}/${before.profile}`);
  }

  forProfile(namespace: string, profile: string): WorkloadBinding[] {
    return [...this.byWorkload.values()]
      .filter((r) => r.namespace === namespace && r.profile === profile)
      .map(({ ref, state, message }) => ({ ref, state, message }))
      .sort((a, b) => a.ref.localeCompare(b.ref));
  }
}
