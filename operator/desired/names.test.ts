import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterRbacName, kubeconfigConfigMapName, volumeName } from './names.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('derived names', () => {
  it('keeps short names readable', () => {
    assert.equal(volumeName('agent'), 'apiaccess-agent');
    assert.equal(kubeconfigConfigMapName('agent'), 'apiaccess-agent-kubeconfig');
    assert.equal(clusterRbacName('kube-system', 'agent'), 'apiaccess:kube-system:agent');
  });

  it('turns dots into dashes and shortens a 63-character profile name into a valid volume name', () => {
    const long = `a.${'b'.repeat(60)}`;
    const name = volumeName(long);
    assert.ok(name.length <= 63, name);
    assert.match(name, DNS_LABEL);
  });

  it('gives two long names sharing a prefix different volume names', () => {
    const a = volumeName(`${'x'.repeat(60)}-one`);
    const b = volumeName(`${'x'.repeat(60)}-two`);
    assert.notEqual(a, b);
    assert.equal(volumeName(`${'x'.repeat(60)}-one`), a, 'deterministic');
  });

  it('fits a cluster-scoped name into 253 characters', () => {
    const name = clusterRbacName('n'.repeat(63), 'p'.repeat(200));
    assert.ok(name.length <= 253);
    assert.match(name, /^apiaccess:n+:p+-[0-9a-f]{8}$/);
  });
});
