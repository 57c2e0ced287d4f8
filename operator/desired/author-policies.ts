// The admission policies that record who authored a profile's grant (docs/decisions/0011): a
// MutatingAdmissionPolicy stamps the requester into spec.author on create and whenever
// spec.permissions or spec.serviceAccount change; a ValidatingAdmissionPolicy pins it, so it can be
// neither forged nor erased. Pure builders: the install renders them, the operator checks they exist.
import { GROUP, PLURAL } from '../../crds/apiaccessprofile.ts';

/** The name of both policies and of both bindings. */
export const AUTHOR_POLICY = 'apiaccess-author';
const ADMISSION_API = 'admissionregistration.k8s.io/v1';

export interface AdmissionObject {
  apiVersion: string;
  kind: 'MutatingAdmissionPolicy' | 'MutatingAdmissionPolicyBinding' | 'ValidatingAdmissionPolicy' | 'ValidatingAdmissionPolicyBinding';
  metadata: { name: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

/**
 * Whether this request makes its requester the author: a create, a change of what is granted or to
 * whom, or the first write to a profile that has no author yet (one created before the guard) by
 * anyone but the operator, whose finalizer writes never make it the author.
 */
function stampsExpression(operatorUser: string): string {
  return [
    "request.operation == 'CREATE'",
    'object.spec.permissions != oldObject.spec.permissions',
    'object.spec.serviceAccount != oldObject.spec.serviceAccount',
    `(!has(oldObject.spec.author) && request.userInfo.username != ${celString(operatorUser)})`,
  ].join(' || ');
}

/** request.userInfo fields an authenticator may leave out (CEL reports an absent one as "no such key"). */
const REQUESTER_VARIABLES = [
  { name: 'uid', expression: "has(request.userInfo.uid) ? request.userInfo.uid : ''" },
  { name: 'groups', expression: 'has(request.userInfo.groups) ? request.userInfo.groups : []' },
  { name: 'extra', expression: 'has(request.userInfo.extra) ? request.userInfo.extra : {}' },
];

const RULES = [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [PLURAL] }];

/** The four objects of the guard, in apply order (policies before their bindings). */
export function authorPolicies(operatorUser: string, labels: Record<string, string> = {}): AdmissionObject[] {
  const metadata = { name: AUTHOR_POLICY, labels };
  const requesterIsAuthor = [
    'has(object.spec.author)',
    'object.spec.author.username == request.userInfo.username',
    "(has(object.spec.author.uid) ? object.spec.author.uid : '') == variables.uid",
    '(has(object.spec.author.groups) ? object.spec.author.groups : []) == variables.groups',
    '(has(object.spec.author.extra) ? object.spec.author.extra : {}) == variables.extra',
  ].join(' && ');
  return [
    {
      apiVersion: ADMISSION_API,
      kind: 'MutatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        reinvocationPolicy: 'Never',
        matchConstraints: { resourceRules: RULES },
        matchConditions: [{ name: 'requester-becomes-author', expression: stampsExpression(operatorUser) }],
        variables: REQUESTER_VARIABLES,
        mutations: [
          {
            patchType: 'JSONPatch',
            jsonPatch: {
              // JSON patch `add` replaces an existing member whole (an apply configuration would merge
              // the atomic groups/extra instead).
              expression:
                "[JSONPatch{op: 'add', path: '/spec/author', value: Object.spec.author{username: request.userInfo.username, uid: variables.uid, groups: variables.groups, extra: variables.extra}}]",
            },
          },
        ],
      },
    },
    {
      apiVersion: ADMISSION_API,
      kind: 'MutatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: AUTHOR_POLICY },
    },
    {
      apiVersion: ADMISSION_API,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: RULES },
        variables: [{ name: 'stamps', expression: stampsExpression(operatorUser) }, ...REQUESTER_VARIABLES],
        validations: [
          {
            expression: `!variables.stamps || (${requesterIsAuthor})`,
            messageExpression: `'spec.author must record the requester ' + request.userInfo.username + ', as MutatingAdmissionPolicy ${AUTHOR_POLICY} stamps it; is that policy and its binding installed?'`,
            reason: 'Forbidden',
          },
          {
            expression: 'variables.stamps || (has(oldObject.spec.author) ? has(object.spec.author) && object.spec.author == oldObject.spec.author : !has(object.spec.author))',
            message:
              'spec.author records who last changed spec.permissions or spec.serviceAccount; it is set at admission and cannot be set, changed or removed by hand. Leave it out of manifests (kubectl apply and server-side apply keep it)',
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: ADMISSION_API,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: AUTHOR_POLICY, validationActions: ['Deny'] },
    },
  ];
}

/** What is wrong with the guard as found in the cluster (undefined objects are missing); empty when intact. */
export function guardProblems(found: Partial<Record<AdmissionObject['kind'], { spec?: Record<string, unknown> } | undefined>>): string[] {
  const problems: string[] = [];
  for (const kind of ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'] as const) {
    const object = found[kind];
    if (object === undefined) {
      problems.push(`${kind} ${AUTHOR_POLICY} is missing`);
      continue;
    }
    if (kind.endsWith('Binding') && object.spec?.policyName !== AUTHOR_POLICY) problems.push(`${kind} ${AUTHOR_POLICY} does not bind policy ${AUTHOR_POLICY}`);
    if (kind === 'ValidatingAdmissionPolicyBinding' && !((object.spec?.validationActions as string[] | undefined) ?? []).includes('Deny')) {
      problems.push(`${kind} ${AUTHOR_POLICY} does not deny (validationActions lacks Deny)`);
    }
    if (!kind.endsWith('Binding') && object.spec?.failurePolicy === 'Ignore') problems.push(`${kind} ${AUTHOR_POLICY} has failurePolicy Ignore`);
  }
  return problems;
}

function celString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
