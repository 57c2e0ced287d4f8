import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTokenText } from './token.ts';
import { WatchedFile } from './watched-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiaccess-watched-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function watched(path: string, clock: { now: number }, events: string[]): WatchedFile<string> {
  const loaded = WatchedFile.load({
    path,
    parse: parseTokenText,
    intervalMs: 10_000,
    now: () => clock.now,
    onRejected: (e) => events.push(`rejected: ${e}`),
    onReplaced: () => events.push('replaced'),
  });
  assert.ok(loaded.ok);
  return loaded.value;
}

/** The kubelet's atomic writer: a new timestamped folder, then the `..data` symlink swapped in one rename. */
function kubeletWrite(folder: string, generation: number, token: string): void {
  writeFileSync(join(folder, `..${generation}-token`), token);
  symlinkSync(`..${generation}-token`, join(folder, '..data_tmp'));
  renameSync(join(folder, '..data_tmp'), join(folder, '..data'));
}

describe('WatchedFile (the token and rules files)', () => {
  it('GIVEN a kubelet rotation THEN the new token is used from the first check 10 s later, not before', () => {
    const folder = mkdtempSync(join(dir, 'projected-'));
    kubeletWrite(folder, 1, 'first');
    symlinkSync('..data', join(folder, 'token'));
    const clock = { now: 0 };
    const events: string[] = [];
    const token = watched(join(folder, 'token'), clock, events);
    kubeletWrite(folder, 2, 'second');
    clock.now = 9_999;
    assert.equal(token.current(), 'first');
    clock.now = 10_000;
    assert.equal(token.current(), 'second');
    assert.deepEqual(events, ['replaced']);
  });

  it('GIVEN the file vanishes or becomes empty THEN the last good token stays, and each problem is reported once', () => {
    const path = join(dir, 'token-gone');
    writeFileSync(path, 'good\n');
    const clock = { now: 0 };
    const events: string[] = [];
    const token = watched(path, clock, events);
    unlinkSync(path);
    clock.now = 10_000;
    assert.equal(token.current(), 'good');
    clock.now = 20_000;
    assert.equal(token.current(), 'good');
    writeFileSync(path, '  \n');
    clock.now = 30_000;
    assert.equal(token.current(), 'good');
    writeFileSync(path, 'fresh\n');
    clock.now = 40_000;
    assert.equal(token.current(), 'fresh');
    assert.deepEqual(events, [`rejected: ${path}: cannot be read (ENOENT)`, `rejected: ${path}: is empty`, 'replaced']);
  });

  it('GIVEN an unchanged file THEN it is not read again (only stat-ed, at most every interval)', () => {
    const path = join(dir, 'token-same');
    writeFileSync(path, 'same');
    const clock = { now: 0 };
    const events: string[] = [];
    const token = watched(path, clock, events);
    for (clock.now = 0; clock.now < 60_000; clock.now += 5_000) assert.equal(token.current(), 'same');
    assert.deepEqual(events, []);
  });

  it('GIVEN a missing or empty file at start THEN load says why, naming the file', () => {
    const missing = WatchedFile.load({ path: join(dir, 'nope'), parse: parseTokenText, intervalMs: 1 });
    assert.deepEqual(missing, { ok: false, error: `${join(dir, 'nope')}: cannot be read (ENOENT)` });
    writeFileSync(join(dir, 'empty'), '\n');
    assert.deepEqual(WatchedFile.load({ path: join(dir, 'empty'), parse: parseTokenText, intervalMs: 1 }), { ok: false, error: `${join(dir, 'empty')}: is empty` });
  });
});
