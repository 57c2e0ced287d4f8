// A Kubernetes LabelSelector (as in a workload's spec.selector) in the `labelSelector` query syntax of
// list and watch requests, so a workload's Pods can be listed with the selector the controller uses.
// Pure.

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: readonly string[];
}

export interface LabelSelector {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

export type LabelSelectorErrorCode = 'UnknownOperator' | 'ValuesRequired' | 'ValuesNotAllowed';

export class LabelSelectorError extends Error {
  constructor(
    readonly code: LabelSelectorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LabelSelectorError';
  }
}

/**
 * `matchLabels` as `key=value`, then each expression (`key in (a,b)`, `key notin (a,b)`, `key`,
 * `!key`), comma-joined: every part must match, as the API server evaluates the selector.
 *
 * An empty selector gives '', which matches every object (as an empty selector does in Kubernetes);
 * callers that must match nothing for a missing selector decide that before calling.
 *
 * @throws LabelSelectorError for an operator other than In, NotIn, Exists, DoesNotExist, or values
 *   that do not fit the operator (the API server rejects those selectors the same way).
 */
export function labelSelectorQuery(selector: LabelSelector): string {
  const labels = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  const expressions = (selector.matchExpressions ?? []).map(requirement);
  return [...labels, ...expressions].join(',');
}

function requirement({ key, operator, values = [] }: LabelSelectorRequirement): string {
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) {
        throw new LabelSelectorError('ValuesRequired', `matchExpressions: key ${key}: operator ${operator} needs at least one value`);
      }
      return `${key} ${operator === 'In' ? 'in' : 'notin'} (${values.join(',')})`;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) {
        throw new LabelSelectorError('ValuesNotAllowed', `matchExpressions: key ${key}: operator ${operator} takes no values, got ${values.join(', ')}`);
      }
      return operator === 'Exists' ? key : `!${key}`;
    default:
      throw new LabelSelectorError(
        'UnknownOperator',
        `matchExpressions: key ${key}: operator ${JSON.stringify(operator)} is not a label selector operator (In, NotIn, Exists, DoesNotExist)`,
      );
  }
}
