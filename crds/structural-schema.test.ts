import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { structural, StructuralSchemaError, structuralViolations, toStructuralSchema, type JSONSchemaProps } from './structural-schema.ts';

function assertStructural(node: JSONSchemaProps): void {
  assert.deepEqual(structuralViolations(node), []);
}

describe('zod -> structural OpenAPI schema', () => {
  it('drops additionalProperties:false that strict objects emit beside properties', () => {
    const out = toStructuralSchema(z.object({ a: z.string() }).strict());
    assert.deepEqual(out, { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] });
  });

  it('keeps maps as additionalProperties with a typed value schema', () => {
    const out = toStructuralSchema(z.object({ labels: z.record(z.string(), z.string()) }));
    assert.deepEqual((out.properties as Record<string, unknown>).labels, { type: 'object', additionalProperties: { type: 'string' } });
  });

  it('strips the +-2^53 bounds zod puts on integers but keeps real bounds', () => {
    const out = toStructuralSchema(z.object({ n: z.number().int(), m: z.number().int().min(600).max(4294967296) }));
    const props = out.properties as Record<string, JSONSchemaProps>;
    assert.deepEqual(props.n, { type: 'integer' });
    assert.deepEqual(props.m, { type: 'integer', minimum: 600, maximum: 4294967296 });
  });

  it('flattens a union of string literals into one enum', () => {
    const out = toStructuralSchema(z.object({ mode: z.union([z.literal('A'), z.literal('B')]) }));
    assert.deepEqual((out.properties as Record<string, JSONSchemaProps>).mode, { type: 'string', enum: ['A', 'B'] });
  });

  it('turns a nullable schema into nullable: true without anyOf', () => {
    const out = toStructuralSchema(z.object({ s: z.string().nullable() }));
    const s = (out.properties as Record<string, JSONSchemaProps>).s as JSONSchemaProps;
    assert.equal(s.type, 'string');
    assert.equal(s.nullable, true);
    assertStructural(out);
  });

  it('rejects a union of different types, which is not structural', () => {
    assert.throws(() => toStructuralSchema(z.object({ x: z.union([z.string(), z.number()]) })), (e: unknown) => {
      assert.ok(e instanceof StructuralSchemaError);
      assert.match(e.message, /^\.x: a union of different types/);
      return true;
    });
  });

  it('rejects $ref with the path of the offending node', () => {
    assert.throws(() => structural({ type: 'object', properties: { a: { $ref: '#/$defs/A' } } }, ''), /\.a: "\$ref" is not allowed/);
  });

  it('rejects keywords JSONSchemaProps does not have instead of passing them silently', () => {
    assert.throws(() => structural({ type: 'string', contentEncoding: 'base64' }, '.f'), /\.f: "contentEncoding" is not a JSONSchemaProps field/);
  });

  it('rejects a pattern Go regular expressions cannot compile', () => {
    assert.throws(() => structural({ type: 'string', pattern: '^(?!x).*$' }, '.p'), /not a Go \(RE2\) regular expression/);
  });

  it('replaces zod\'s ECMAScript date-time pattern by the format alone', () => {
    const out = toStructuralSchema(z.object({ t: z.iso.datetime() }));
    assert.deepEqual((out.properties as Record<string, JSONSchemaProps>).t, { type: 'string', format: 'date-time' });
  });

  it('passes x-kubernetes-* extensions through', () => {
    const out = toStructuralSchema(
      z.object({ l: z.array(z.string()).meta({ 'x-kubernetes-list-type': 'set', 'x-kubernetes-validations': [{ rule: 'size(self) < 3' }] }) }),
    );
    const l = (out.properties as Record<string, JSONSchemaProps>).l as JSONSchemaProps;
    assert.equal(l['x-kubernetes-list-type'], 'set');
    assert.deepEqual(l['x-kubernetes-validations'], [{ rule: 'size(self) < 3' }]);
  });

  it('emits defaults so the API server applies them', () => {
    const out = toStructuralSchema(z.object({ b: z.boolean().default(true) }));
    assert.deepEqual((out.properties as Record<string, JSONSchemaProps>).b, { type: 'boolean', default: true });
  });

  it('reports every node without a type', () => {
    assert.deepEqual(structuralViolations({ type: 'object', properties: { a: {}, b: { type: 'array', items: {} } } }), ['.a: has no type', '.b[]: has no type']);
  });

  it('produces a fully structural schema for a nested object', () => {
    const out = toStructuralSchema(z.object({ a: z.array(z.object({ b: z.enum(['x']), c: z.record(z.string(), z.number()).optional() }).strict()) }).strict());
    assertStructural(out);
  });
});
