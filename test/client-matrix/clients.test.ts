// The clients' logs, read back: client-go's own sentences and the scripts' MATRIX lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOutcomes } from './clients.ts';

const T = '2026-12-02T18:00:00.123456789Z';
const at = Date.parse(T);

describe('parseOutcomes', () => {
  it('reads client-go\'s example output: a list is allowed, its error message names the refusal', () => {
    const log = [
      `${T} There are 17 pods in the cluster`,
      `${T} Error getting pod example-xxxxx in namespace default: pods "example-xxxxx" is forbidden: User "system:serviceaccount:ns:x" cannot get resource "pods" in API group "" in the namespace "default"`,
      `${T} Pod example-xxxxx in namespace default not found`,
      `${T} panic: Unauthorized`,
      `${T} goroutine 1 [running]:`,
    ].join('\n');
    assert.deepEqual(
      parseOutcomes('client-go', log).map((o) => [o.request, o.status]),
      [
        ['allowed', 200],
        ['forbidden', 403],
        ['forbidden', 404],
        ['allowed', 401],
      ],
    );
    assert.equal(parseOutcomes('client-go', log)[0]?.at, at);
  });

  it('reads kubectl\'s ok/error lines by the status its message names', () => {
    const log = [
      `${T} MATRIX allowed ok 12 lines`,
      `${T} MATRIX forbidden error Error from server (Forbidden): pods "example-xxxxx" is forbidden: User "u" cannot get resource "pods"`,
      `${T} MATRIX allowed error error: You must be logged in to the server (Unauthorized)`,
    ].join('\n');
    assert.deepEqual(parseOutcomes('kubectl', log).map((o) => [o.request, o.status]), [
      ['allowed', 200],
      ['forbidden', 403],
      ['allowed', 401],
    ]);
  });

  it('reads the numeric status of curl, Python and client-node; anything else in the log is ignored', () => {
    const log = [`${T} MATRIX allowed 200 3 pods`, `${T} MATRIX forbidden 403 Forbidden`, `${T} MATRIX allowed 000 curl: (7) Failed to connect`, `${T} Traceback (most recent call last):`].join('\n');
    assert.deepEqual(parseOutcomes('python', log).map((o) => [o.request, o.status, o.detail]), [
      ['allowed', 200, '3 pods'],
      ['forbidden', 403, 'Forbidden'],
      ['allowed', 0, 'curl: (7) Failed to connect'],
    ]);
  });
});
