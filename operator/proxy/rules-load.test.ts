import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRulesText } from './rules-load.ts';

const valid = {
  version: 1,
  profile: 'team-a/agent',
  user: 'system:serviceaccount:team-a:agent',
  scope: 'Namespace',
  namespace: 'team-a',
  rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
};

describe('parseRulesText', () => {
  it('a valid file gives its rules, with missingClusterRoles defaulted', () => {
    assert.deepEqual(parseRulesText(JSON.stringify(valid)), { ok: true, value: { ...valid, missingClusterRoles: [] } });
  });

  it('text that is not JSON says so', () => {
    const r = parseRulesText('{"version":');
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /^is not JSON/);
  });

  it('an invalid field is named by its path', () => {
    const r = parseRulesText(JSON.stringify({ ...valid, rules: [{ apiGroups: [''], resources: ['pods'], verbs: [] }] }));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /^field rules\[0\]\.verbs: /);
  });

  it('an unknown scope and a missing user are both reported', () => {
    const { user: _user, ...withoutUser } = valid;
    const r = parseRulesText(JSON.stringify({ ...withoutUser, scope: 'Everything' }));
    assert.equal(r.ok, false);
    const error = !r.ok ? r.error : '';
    assert.match(error, /field user: /);
    assert.match(error, /field scope: /);
  });

  it('a file of another version is refused rather than half understood', () => {
    const r = parseRulesText(JSON.stringify({ ...valid, version: 2 }));
    assert.match(!r.ok ? r.error : '', /^field version: /);
  });
});
