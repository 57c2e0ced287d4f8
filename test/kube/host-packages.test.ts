// CI installs the host packages with test/kube/install-packages.sh before `npm ci`; `npm test` and
// `npm start` install them from HOST_PACKAGES. The two lists must not drift apart.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { HOST_PACKAGES } from './host-packages.ts';

it('GIVEN install-packages.sh THEN it installs exactly HOST_PACKAGES', async () => {
  const script = await readFile(join(import.meta.dirname, 'install-packages.sh'), 'utf8');
  const listed = /^packages=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/).filter(Boolean);

  assert.deepEqual(listed, [...HOST_PACKAGES]);
});
