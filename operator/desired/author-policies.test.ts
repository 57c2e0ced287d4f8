import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AUTHOR_POLICY, authorPolicies, guardProblems } from './author-policies.ts';

const OPERATOR = 'system:serviceaccount:apiaccess-system:apiaccess-operator';
const intact = () => Object.fromEntries(authorPolicies(OPERATOR).map((o) => [o.kind, o]));

describe('the author guard policies', () => {
  it('are two policies and their bindings, all named apiaccess-author, failing closed', () => {
    const objects = authorPolicies(OPERATOR);
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`), [
      `MutatingAdmissionPolicy/${AUTHOR_POLICY}`,
      `MutatingAdmissionPolicyBinding/${AUTHOR_POLICY}`,
      `ValidatingAdmissionPolicy/${AUTHOR_POLICY}`,
      `ValidatingAdmissionPolicyBinding/${AUTHOR_POLICY}`,
    ]);
    for (const o of objects.filter((x) => !x.kind.endsWith('Binding'))) assert.equal(o.spec.failurePolicy, 'Fail');
  });

  it('never make the operator the author of a profile that has none (its finalizer writes)', () => {
    const map = authorPolicies(OPERATOR)[0]!;
    const when = (map.spec.matchConditions as Array<{ expression: string }>)[0]!.expression;
    assert.match(when, new RegExp(`request.userInfo.username != '${OPERATOR}'`));
  });

  it('are intact as built, and name each missing, unbound or non-denying piece', () => {
    assert.deepEqual(guardProblems(intact()), []);
    const { MutatingAdmissionPolicy: _gone, ...withoutMutating } = intact();
    assert.deepEqual(guardProblems(withoutMutating), [`MutatingAdmissionPolicy ${AUTHOR_POLICY} is missing`]);
    const auditOnly = intact();
    auditOnly.ValidatingAdmissionPolicyBinding = { ...auditOnly.ValidatingAdmissionPolicyBinding!, spec: { policyName: AUTHOR_POLICY, validationActions: ['Audit'] } };
    assert.deepEqual(guardProblems(auditOnly), [`ValidatingAdmissionPolicyBinding ${AUTHOR_POLICY} does not deny (validationActions lacks Deny)`]);
    const ignored = intact();
    ignored.MutatingAdmissionPolicy = { ...ignored.MutatingAdmissionPolicy!, spec: { ...ignored.MutatingAdmissionPolicy!.spec, failurePolicy: 'Ignore' } };
    assert.deepEqual(guardProblems(ignored), [`MutatingAdmissionPolicy ${AUTHOR_POLICY} has failurePolicy Ignore`]);
  });
});
