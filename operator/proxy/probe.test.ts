import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { listening, probePort } from './probe.ts';

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

  /** Runs node with a resolve hook that prints every file it loads of these packages. */
  function loadedPackages(args: readonly string[], packages: string): { status: number | null; stdout: string; stderr: string } {
    const hook = `data:text/javascript,${encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        if (/\\/node_modules\\/(${packages})\\//.test(result.url)) process.stdout.write('LOADED ' + result.url + '\\n');
        return result;
      }`)}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
    return spawnSync(process.execPath, ['--import', register, ...args], { encoding: 'utf8', cwd: root });
  }

  it('GIVEN the command the kubelet runs THEN it loads neither commander, pino, zod nor client-node, and exits 1 naming the port', async () => {
    const port = await freePort();
    const out = loadedPackages([join(root, 'operator', 'bin', 'apiaccess.js'), 'proxy', '--probe', `--port=${port}`], 'commander|pino|zod|@kubernetes\\/client-node');
    assert.equal(out.status, 1, `${out.stderr} (run \`npm run build\` first)`);
    assert.equal(out.stderr, `apiaccess: proxy probe: nothing accepts connections on 127.0.0.1:${port}\n`);
    assert.doesNotMatch(out.stdout, /LOADED/);
  });

  it('GIVEN the probe through the CLI (main) THEN it loads neither pino, zod nor client-node either', async () => {
    const port = await freePort();
    const cli = join(root, 'dist', 'operator', 'cli.js');
    const script = `const { main } = await import(${JSON.stringify(cli)}); console.log('EXIT', await main(['node', 'apiaccess', 'proxy', '--probe', '--port', '${port}']));`;
    const out = loadedPackages(['--input-type=module', '-e', script], 'pino|zod|@kubernetes\\/client-node');
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /EXIT 1/, 'the probe ran (run `npm run build` first)');
    assert.doesNotMatch(out.stdout, /LOADED/);
  });
});

describe('probePort: which arguments take the short way past the CLI', () => {
  const cases: ReadonlyArray<[string, string[], number | undefined]> = [
    ['the startupProbe command of the contract', ['proxy', '--probe', '--port=8001'], 8001],
    ['--port as a separate argument, flags in another order', ['proxy', '--port', '9000', '--probe'], 9000],
    ['no --port: the CLI applies its default and its checks', ['proxy', '--probe'], undefined],
    ['an unknown flag: the CLI reports it', ['proxy', '--probe', '--port=8001', '--verbose'], undefined],
    ['a port out of range: the CLI reports it', ['proxy', '--probe', '--port=70000'], undefined],
    ['a port that is not a number', ['proxy', '--probe', '--port=http'], undefined],
    ['the proxy itself, without --probe', ['proxy', '--port=8001'], undefined],
    ['another command', ['doctor', '--probe', '--port=8001'], undefined],
  ];
  for (const [sentence, args, expected] of cases) {
    it(`${sentence}: ${String(expected)}`, () => assert.equal(probePort(args), expected));
  }
});
