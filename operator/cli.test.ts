// Flag parsing of `apiaccess run` that fails before the operator starts (no cluster needed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT_USAGE, main, positiveInteger, positiveNumber } from './cli.ts';

/** Runs the CLI in this process and returns its exit code and what it wrote to stderr. */
async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(['node', 'apiaccess', ...args]), stderr };
  } finally {
    process.stderr.write = original;
  }
}

describe('apiaccess run --kube-api-qps / --kube-api-burst', () => {
  const bad: Array<[string, string]> = [
    ['--kube-api-qps', 'fast'],
    ['--kube-api-qps', '0'],
    ['--kube-api-qps', '-5'],
    ['--kube-api-burst', '2.5'],
    ['--kube-api-burst', '0'],
    ['--kube-api-burst', ''],
  ];
  for (const [flag, value] of bad) {
    it(`GIVEN ${flag} ${JSON.stringify(value)} THEN it exits with a usage error naming the flag and the value`, async () => {
      const { code, stderr } = await run(['run', flag, value]);
      assert.equal(code, EXIT_USAGE);
      assert.ok(stderr.includes(flag) && stderr.includes(`'${value}'`), stderr);
    });
  }

  it('GIVEN good values THEN the parsers return them as numbers', () => {
    assert.deepEqual([positiveNumber('50'), positiveNumber('0.5'), positiveInteger('100')], [50, 0.5, 100]);
  });
});
