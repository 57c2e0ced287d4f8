import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CommandExit } from '../exit.ts';
import { writePrivate } from './kubeconfig-export.ts';

describe('apiaccess kubeconfig --output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-output-'));

  it('GIVEN a new path WHEN the kubeconfig is written THEN the file is created with mode 0600', () => {
    const file = join(dir, 'new.kubeconfig');
    writePrivate(file, 'token: secret\n');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'token: secret\n');
  });

  it('GIVEN an existing 0644 file WHEN the kubeconfig is written THEN it refuses and leaves the file alone', () => {
    const file = join(dir, 'existing.kubeconfig');
    writeFileSync(file, 'old\n', { mode: 0o644 });
    assert.throws(() => writePrivate(file, 'token: secret\n'), (e: unknown) => e instanceof CommandExit && /already exists/.test(e.message));
    assert.equal(readFileSync(file, 'utf8'), 'old\n');
    assert.equal(statSync(file).mode & 0o777, 0o644);
  });

  it('GIVEN a symlink to another file WHEN the kubeconfig is written THEN it does not follow it', () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'target\n', { mode: 0o644 });
    const link = join(dir, 'link.kubeconfig');
    symlinkSync(target, link);
    assert.throws(() => writePrivate(link, 'token: secret\n'), CommandExit);
    assert.equal(readFileSync(target, 'utf8'), 'target\n');
  });

  it('GIVEN a dangling symlink WHEN the kubeconfig is written THEN it does not create the link target', () => {
    const link = join(dir, 'dangling.kubeconfig');
    symlinkSync(join(dir, 'would-be-created'), link);
    assert.throws(() => writePrivate(link, 'token: secret\n'), CommandExit);
    assert.throws(() => statSync(join(dir, 'would-be-created')));
  });
});
