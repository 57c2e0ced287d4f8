// Converts a zod schema into a *structural* OpenAPI v3 schema as the API server requires for CRDs
// (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema).
// zod's JSON Schema output is close; what it emits that a CRD rejects is rewritten here, and what
// cannot be expressed structurally throws, so an unsupported schema fails `npm run synth` loudly.
import { z } from 'zod';

export type JSONSchemaProps = { [key: string]: unknown };

export class StructuralSchemaError extends Error {
  readonly code = 'StructuralSchemaUnsupported';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path || '<root>'}: ${message}`);
    this.name = 'StructuralSchemaError';
  }
}

// The keys of apiextensions.k8s.io/v1 JSONSchemaProps that may appear in a structural schema.
const ALLOWED_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'default',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'multipleOf',
  'enum',
  'maxProperties',
  'minProperties',
  'required',
  'items',
  'properties',
  'additionalProperties',
  'nullable',
  'example',
  'externalDocs',
]);
// Keys zod emits that carry nothing the API server uses.
const DROPPED_KEYS = new Set(['$schema', 'id', 'examples', 'readOnly', 'writeOnly', 'deprecated']);
const SAFE_INTEGER_BOUND = Number.MAX_SAFE_INTEGER;
// Go's RE2 has no lookaround or backreferences; a pattern using them would make the CRD invalid.
const NON_RE2 = /\(\?[=!<]|\\[1-9]/;

/** zod schema -> structural OpenAPI v3 schema for a CRD version's `openAPIV3Schema`. */
export function toStructuralSchema(schema: z.ZodType): JSONSchemaProps {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as JSONSchemaProps;
  const out = structural(json, '');
  const violations = structuralViolations(out);
  if (violations.length > 0) throw new StructuralSchemaError('', violations.join('; '));
  return out;
}

const FORBIDDEN = ['$ref', '$defs', 'definitions', 'oneOf', 'anyOf', 'allOf', 'not', 'uniqueItems', 'const', '$schema'];

/** The structural-schema rules a schema breaks, as "<path>: <problem>" (empty when structural). */
export function structuralViolations(node: JSONSchemaProps, path = ''): string[] {
  const here = path || '<root>';
  const out = FORBIDDEN.filter((key) => node[key] !== undefined).map((key) => `${here}: has ${key}`);
  if (node.type === undefined && node['x-kubernetes-int-or-string'] !== true && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.push(`${here}: has no type`);
  }
  if (node.properties !== undefined) {
    if (node.additionalProperties !== undefined) out.push(`${here}: has additionalProperties beside properties`);
    for (const [k, v] of Object.entries(node.properties as Record<string, JSONSchemaProps>)) out.push(...structuralViolations(v, `${path}.${k}`));
  }
  if (node.items !== undefined) out.push(...structuralViolations(node.items as JSONSchemaProps, `${path}[]`));
  if (typeof node.additionalProperties === 'object') out.push(...structuralViolations(node.additionalProperties as JSONSchemaProps, `${path}.*`));
  return out;
}

/** Rewrites one JSON Schema node (exported for tests on hand-written input). */
export function structural(node: JSONSchemaProps, path: string): JSONSchemaProps {
  const out: JSONSchemaProps = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === '$ref' || key === '$defs' || key === 'definitions') {
      throw new StructuralSchemaError(path, `"${key}" is not allowed in a CRD schema; inline the schema (no recursive or reused-by-reference types)`);
    }
    if (key === 'anyOf' || key === 'oneOf' || key === 'allOf' || key === 'not') {
      continue; // handled below
    }
    if (key === 'uniqueItems') continue; // forbidden in structural schemas; use x-kubernetes-list-type: set
    if (key === 'const') {
      out.enum = [value];
      continue;
    }
    if (key.startsWith('x-kubernetes-')) {
      out[key] = value;
      continue;
    }
    if (!ALLOWED_KEYS.has(key)) {
      throw new StructuralSchemaError(path, `"${key}" is not a JSONSchemaProps field`);
    }
    out[key] = value;
  }
  mergeUnion(node, out, path);

  if (out.properties !== undefined) {
    const props: JSONSchemaProps = {};
    for (const [name, child] of Object.entries(out.properties as Record<string, JSONSchemaProps>)) {
      props[name] = structural(child, `${path}.${name}`);
    }
    out.properties = props;
    // additionalProperties:false beside properties is implied by pruning and rejected by the API server.
    if (out.additionalProperties === false) delete out.additionalProperties;
  }
  if (out.additionalProperties !== undefined && out.additionalProperties !== false) {
    if (out.properties !== undefined) {
      throw new StructuralSchemaError(path, 'properties and additionalProperties are mutually exclusive');
    }
    if (typeof out.additionalProperties === 'object') {
      out.additionalProperties = structural(out.additionalProperties as JSONSchemaProps, `${path}.*`);
    }
  }
  if (out.items !== undefined) {
    if (Array.isArray(out.items)) throw new StructuralSchemaError(path, 'tuple items are not structural');
    out.items = structural(out.items as JSONSchemaProps, `${path}[]`);
  }
  if (out.type === 'integer' || out.type === 'number') {
    if (out.minimum === -SAFE_INTEGER_BOUND) delete out.minimum;
    if (out.maximum === SAFE_INTEGER_BOUND) delete out.maximum;
  }
  if (out.type === 'string' && typeof out.pattern === 'string') {
    // zod adds its own long ECMAScript patterns to formats (date-time, email...); the format suffices.
    if (out.format !== undefined) delete out.pattern;
    else if (NON_RE2.test(out.pattern)) throw new StructuralSchemaError(path, `pattern ${out.pattern} is not a Go (RE2) regular expression`);
  }
  return out;
}

// A union of plain enums / literals of one type becomes a single enum; a nullable union becomes
// `nullable: true`. Anything else would need oneOf/anyOf with types inside, which is not structural:
// express it with one type and a CEL rule instead.
function mergeUnion(node: JSONSchemaProps, out: JSONSchemaProps, path: string): void {
  const branches = (node.anyOf ?? node.oneOf) as JSONSchemaProps[] | undefined;
  if (node.allOf !== undefined || node.not !== undefined) {
    throw new StructuralSchemaError(path, 'allOf/not are not supported; use a CEL rule (x-kubernetes-validations)');
  }
  if (branches === undefined) return;
  const nonNull = branches.filter((b) => !(b.type === 'null' || (b.nullable === true && b.enum !== undefined && (b.enum as unknown[]).every((v) => v === null))));
  if (nonNull.length !== branches.length) out.nullable = true;
  const types = new Set(nonNull.map((b) => b.type));
  const enumOnly = nonNull.every((b) => Array.isArray(b.enum) || b.const !== undefined);
  if (types.size !== 1 || !enumOnly) {
    if (nonNull.length === 1) {
      Object.assign(out, structural(nonNull[0] as JSONSchemaProps, path));
      return;
    }
    throw new StructuralSchemaError(path, 'a union of different types is not structural; use one type and a CEL rule');
  }
  out.type = [...types][0];
  out.enum = nonNull.flatMap((b) => (Array.isArray(b.enum) ? (b.enum as unknown[]) : [b.const]));
}
