import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabelSelectorError, labelSelectorQuery, type LabelSelector } from './selectors.ts';

describe('label selector query', () => {
  const cases: Array<[string, LabelSelector, string]> = [
    ['matchLabels become key=value, in order', { matchLabels: { app: 'agent', tier: 'backend' } }, 'app=agent,tier=backend'],
    ['In and NotIn list their values', { matchExpressions: [{ key: 'env', operator: 'In', values: ['x', 'y'] }, { key: 'zone', operator: 'NotIn', values: ['z'] }] }, 'env in (x,y),zone notin (z)'],
    ['Exists is the bare key and DoesNotExist its negation', { matchExpressions: [{ key: 'tier', operator: 'Exists' }, { key: 'legacy', operator: 'DoesNotExist', values: [] }] }, 'tier,!legacy'],
    [
      'matchLabels and matchExpressions together must all match',
      { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['x', 'y'] }, { key: 'legacy', operator: 'DoesNotExist' }, { key: 'tier', operator: 'Exists' }] },
      'a=b,env in (x,y),!legacy,tier',
    ],
    ['prefixed keys stay as they are', { matchLabels: { 'app.kubernetes.io/name': 'agent' } }, 'app.kubernetes.io/name=agent'],
    ['an empty selector matches everything', {}, ''],
  ];
  for (const [name, selector, query] of cases) {
    it(`GIVEN ${name} WHEN rendered THEN the query is "${query}"`, () => assert.equal(labelSelectorQuery(selector), query));
  }

  const invalid: Array<[string, LabelSelector, string, RegExp]> = [
    ['an unknown operator', { matchExpressions: [{ key: 'env', operator: 'Equals', values: ['x'] }] }, 'UnknownOperator', /key env: operator "Equals" is not a label selector operator/],
    ['an operator in the wrong case', { matchExpressions: [{ key: 'env', operator: 'in', values: ['x'] }] }, 'UnknownOperator', /operator "in"/],
    ['In without values', { matchExpressions: [{ key: 'env', operator: 'In', values: [] }] }, 'ValuesRequired', /key env: operator In needs at least one value/],
    ['Exists with values', { matchExpressions: [{ key: 'tier', operator: 'Exists', values: ['x'] }] }, 'ValuesNotAllowed', /key tier: operator Exists takes no values, got x/],
  ];
  for (const [name, selector, code, message] of invalid) {
    it(`GIVEN ${name} WHEN rendered THEN it fails with ${code}, naming the key and operator`, () => {
      assert.throws(() => labelSelectorQuery(selector), (error: unknown) => error instanceof LabelSelectorError && error.code === code && message.test(error.message));
    });
  }
});
