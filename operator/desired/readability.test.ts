import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unreadableKubeconfig } from './readability.ts';

const PATH = '/etc/kip/kubeconfig';
const template = (pod: object, container: object = {}): object => ({ spec: { securityContext: pod, containers: [{ name: 'agent', securityContext: container }, { name: 'other' }] } });
const check = (t: object, mode = 0o600, containers = ['agent']): string[] => unreadableKubeconfig(t, containers, PATH, mode).map((u) => u.message);

describe('kubeconfig readability from the pod template', () => {
  it('a container running as uid 65532 without fsGroup cannot read a 0600 file; the message names the container, the file and the fix', () => {
    const [message, ...rest] = check(template({ runAsUser: 65532 }));
    assert.equal(rest.length, 0);
    assert.match(message ?? '', /container agent runs as uid 65532 \(spec\.securityContext\.runAsUser\) and cannot read \/etc\/kip\/kubeconfig \(mode 0600/);
    assert.match(message ?? '', /set spec\.securityContext\.fsGroup .*fsGroup: 65532/);
  });

  it('the container\'s own runAsUser wins over the pod\'s', () => {
    assert.match(check(template({ runAsUser: 0 }, { runAsUser: 1000 }))[0] ?? '', /uid 1000 \(containers\[agent\]\.securityContext\.runAsUser\)/);
    assert.deepEqual(check(template({ runAsUser: 1000 }, { runAsUser: 0 })), []);
  });

  it('fsGroup makes the file readable (the kubelet adds group read and the group to every container)', () => {
    assert.deepEqual(check(template({ runAsUser: 65532, fsGroup: 65532 })), []);
  });

  it('a world-readable mode is readable by anyone', () => {
    assert.deepEqual(check(template({ runAsUser: 65532 }), 0o644), []);
  });

  it('runAsNonRoot without a uid is reported too: any non-root user fails on 0600', () => {
    assert.match(check(template({ runAsNonRoot: true }))[0] ?? '', /runs as a non-root user of its image/);
  });

  it('an image-chosen user (no runAsUser, no runAsNonRoot) is not knowable and not reported', () => {
    assert.deepEqual(check(template({})), []);
    assert.deepEqual(unreadableKubeconfig(undefined, ['agent'], PATH, 0o600), []);
  });

  it('a group-readable file is readable through the root group unless the template pins another group', () => {
    assert.deepEqual(check(template({ runAsUser: 1000 }), 0o640), [], 'no runAsGroup: the primary group may be root');
    assert.equal(check(template({ runAsUser: 1000, runAsGroup: 1000 }), 0o640).length, 1);
    assert.deepEqual(check(template({ runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [0] }), 0o640), []);
  });

  it('only the selected containers are judged', () => {
    assert.equal(check(template({ runAsUser: 65532 }), 0o600, ['other']).length, 1, 'other inherits the pod uid');
    assert.deepEqual(check(template({}, { runAsUser: 65532 }), 0o600, ['other']), []);
  });
});

describe('kubeconfig readability for native sidecars', () => {
  it('GIVEN a native sidecar running as uid 1000 and no fsGroup WHEN a 0600 kubeconfig is mounted in it THEN it is reported, naming its initContainers field', () => {
    const t = { spec: { initContainers: [{ name: 'log-shipper', restartPolicy: 'Always', securityContext: { runAsUser: 1000 } }], containers: [{ name: 'app' }] } };
    assert.match(check(t, 0o600, ['app', 'log-shipper'])[0] ?? '', /container log-shipper runs as uid 1000 \(initContainers\[log-shipper\]\.securityContext\.runAsUser\)/);
  });
});
