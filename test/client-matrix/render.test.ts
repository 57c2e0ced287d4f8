// docs/clients.md from a run: the matrix marks, one footnote per ❌ and n/a, a missing column said so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CellResult, MatrixRun } from './matrix.ts';
import { renderClientsMarkdown } from './render.ts';

const rotation = (usesNewToken: boolean): CellResult['rotation'] => ({
  applicable: true,
  oldJti: 'old',
  newJti: 'new',
  rotatedSeenAt: '2026-12-02T18:08:20Z',
  judgedFrom: '2026-12-02T18:09:50Z',
  before: { 'JTI=old': 40 },
  after: usesNewToken ? { 'JTI=new': 6 } : { 'JTI=old': 6 },
  sinceRotation: usesNewToken ? { 'JTI=new': 8, 'JTI=old': 2 } : { 'JTI=old': 8 },
  usesNewToken,
  stillWorks: true,
  oldTokenRefusedFrom: '2026-12-02T18:11:00Z',
  afterExpiry: usesNewToken ? { '200': 3 } : { '401': 3 },
  evidence: usesNewToken ? 'of 6 requests, 6 carried the new token' : 'of 6 requests, 0 carried the new token, 6 the old one',
});

function result(client: CellResult['client'], column: CellResult['column'], r: CellResult['rotation']): CellResult {
  return { client, column, pod: `${client}-pod`, expectedUser: 'u', users: ['u'], restarts: 0, allowed: { ok: true, evidence: '13 of 13 answered 200' }, forbidden: { ok: true, evidence: 'client saw 403 ×13' }, rotation: r };
}

const run: MatrixRun = {
  date: '2026-12-02',
  durationSeconds: 700,
  tokenExpirationSeconds: 600,
  rereadSeconds: 90,
  versions: { kubernetes: 'v1.37.2', kubectl: 'v1.37.2', clientGo: 'v0.37.2', python: '3.11.2', pythonKubernetes: '22.6.0', clientNode: '1.4.0', node: 'v24.21.0', curl: '7.88.1' },
  generatedUser: { tokenFile: '/etc/apiaccess/token' },
  proxyCluster: { server: 'http://127.0.0.1:8001' },
  cells: [result('curl', 'Generated', rotation(true)), result('python', 'Generated', rotation(false)), result('curl', 'Secret', { applicable: false, reason: 'a client certificate' }), result('python', 'Secret', { applicable: false, reason: 'a client certificate' })],
  missingColumns: [{ column: 'Proxy', reason: 'not in the operator yet' }],
};

describe('renderClientsMarkdown', () => {
  const page = renderClientsMarkdown(run);
  const row = (title: string): string | undefined => page.split('\n').find((l) => l.startsWith(`| ${title} |`));

  it('marks each cell allowed · refused · new token, with a footnote on each ❌ and n/a', () => {
    assert.equal(row('curl'), '| curl | not measured[^1] | ✅ ✅ ✅ | ✅ ✅ n/a[^2] | not measured[^3] |');
    assert.equal(row('Python (`kubernetes`)'), '| Python (`kubernetes`) | not measured[^1] | ✅ ✅ ❌[^4] | ✅ ✅ n/a[^2] | not measured[^3] |');
  });

  it('explains a known failure with the measured evidence and the cause from the client\'s source', () => {
    const note = page.split('\n').find((l) => l.startsWith('[^4]: '));
    assert.match(note ?? '', /Python \(`kubernetes`\) × Kubeconfig Generated, new token: of 6 requests, 0 carried the new token, 6 the old one\. Known: the Python client's `load_kube_config\(\)` reads the kubeconfig's `tokenFile` once/);
  });

  it('says a column was not measured, and why', () => {
    assert.match(page, /\[\^3\]: Proxy column not measured: not in the operator yet/);
    assert.match(page, /- \*\*Proxy\*\*: .*\*Not measured in this run: not in the operator yet\*/);
  });

  it('states the versions and what the run measured', () => {
    assert.match(page, /\| Python \/ `kubernetes` package \| 3\.11\.2 \/ 22\.6\.0 \|/);
    assert.match(page, /3 of 4 measured cells hold\. The run took 11 min 40 s\./);
  });
});
