import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { listening } from './probe.ts';

const root = resolve(import.meta.dirname, '..', '..');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('apiaccess proxy --probe', () => {
  it('GIVEN something listens on 127.0.0.1:<port> THEN true; once it stops THEN false', async () => {
    const server = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    assert.equal(await listening(port), true);
    server.close();
    await once(server, 'close');
    assert.equal(await listening(port), false);
  });

  it('GIVEN the compiled CLI THEN the probe loads neither pino, zod nor client-node, and exits 1 with nothing listening', async () => {
    const hook = `data:text/javascript,${encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        if (/\\/node_modules\\/(pino|zod|@kubernetes\\/client-node)\\//.test(result.url)) process.stdout.write('LOADED ' + result.url + '\\n');
        return result;
      }`)}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
    const cli = join(root, 'dist', 'operator', 'cli.js');
    const port = await freePort();
    const script = `const { main } = await import(${JSON.stringify(cli)}); console.log('EXIT', await main(['node', 'apiaccess', 'proxy', '--probe', '--port=${port}']));`;
    const out = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: root });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /EXIT 1/, 'the probe ran (run `npm run build` first)');
    assert.match(out.stderr, new RegExp(`nothing accepts connections on 127\\.0\\.0\\.1:${port}`));
    assert.doesNotMatch(out.stdout, /LOADED/);
  });
});
