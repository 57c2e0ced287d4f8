import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { credentialsFor, needsClientNode, TOKEN_FILE_REREAD_MS } from './credentials.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiaccess-credentials-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Options = { headers?: Record<string, string>; ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string; auth?: string };

async function applied(cluster: Record<string, unknown>, user: Record<string, unknown>, now = () => 0): Promise<Options> {
  const options: Options = {};
  await credentialsFor({}, cluster, user, now).applyToHTTPSOptions(options);
  return options;
}

describe('credentialsFor', () => {
  it('GIVEN CA and client certificate data THEN they are used, and TLS verification stays on', async () => {
    const pem = (s: string): string => Buffer.from(s).toString('base64');
    const o = await applied({ 'certificate-authority-data': pem('CA'), 'tls-server-name': 'api.internal' }, { 'client-certificate-data': pem('CERT'), 'client-key-data': pem('KEY') });
    assert.deepEqual([o.ca?.toString(), o.cert?.toString(), o.key?.toString(), o.servername, o.rejectUnauthorized], ['CA', 'CERT', 'KEY', 'api.internal', undefined]);
    assert.equal(o.headers?.Authorization, undefined);
  });

  it('GIVEN insecure-skip-tls-verify THEN verification is off, and only then', async () => {
    assert.equal((await applied({ 'insecure-skip-tls-verify': true }, {})).rejectUnauthorized, false);
    assert.equal((await applied({ 'insecure-skip-tls-verify': 'yes' }, {})).rejectUnauthorized, undefined);
  });

  it('GIVEN a token file THEN it is sent, read again after TOKEN_FILE_REREAD_MS (a kubelet rotation), and the last good one kept if the file vanishes', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'first\n');
    let clock = 0;
    const source = credentialsFor({}, {}, { tokenFile: file }, () => clock);
    const token = async (): Promise<string | undefined> => {
      const o: Options = {};
      await source.applyToHTTPSOptions(o);
      return o.headers?.Authorization;
    };
    assert.equal(await token(), 'Bearer first');
    writeFileSync(file, 'second');
    assert.equal(await token(), 'Bearer first', 'not read again within the interval');
    clock += TOKEN_FILE_REREAD_MS;
    assert.equal(await token(), 'Bearer second');
    rmSync(file);
    clock += TOKEN_FILE_REREAD_MS;
    assert.equal(await token(), 'Bearer second');
  });

  it('GIVEN the in-cluster tokenFile provider or token-file THEN they are token files too; a static token wins', async () => {
    const file = join(dir, 'sa-token');
    writeFileSync(file, 'sa');
    assert.equal((await applied({}, { 'auth-provider': { name: 'tokenFile', config: { tokenFile: file } } })).headers?.Authorization, 'Bearer sa');
    assert.equal((await applied({}, { 'token-file': file })).headers?.Authorization, 'Bearer sa');
    assert.equal((await applied({}, { token: 'static', tokenFile: file })).headers?.Authorization, 'Bearer static');
  });

  it('GIVEN basic auth THEN user:password', async () => {
    assert.equal((await applied({}, { username: 'u', password: 'p' })).auth, 'u:p');
  });

  it('GIVEN a missing file or half a key pair THEN the error names the field and the file, never a credential', async () => {
    await assert.rejects(applied({ 'certificate-authority': join(dir, 'nope.crt') }, {}), /cluster certificate-authority .*nope\.crt: cannot be read \(ENOENT\)/);
    await assert.rejects(applied({}, { 'client-certificate-data': 'Q0VSVA==' }), /client-certificate is set without client-key/);
    await assert.rejects(applied({}, { tokenFile: join(dir, 'none') }), /tokenFile .*none: cannot be read/);
  });

  it('GIVEN an exec plugin, a cloud auth provider or impersonation THEN client-node is needed; tokens and certificates do not need it', () => {
    assert.equal(needsClientNode({ exec: { command: 'aws' } }), true);
    assert.equal(needsClientNode({ 'auth-provider': { name: 'oidc' } }), true);
    assert.equal(needsClientNode({ 'auth-provider': { name: 'tokenFile', config: {} } }), false);
    assert.equal(needsClientNode({ token: 't' }), false);
    assert.equal(needsClientNode({ token: 't', as: 'someone' }), true, 'impersonation is sent by client-node');
  });
});

describe('the operator process', () => {
  it('GIVEN `apiaccess run` and its Manager loaded THEN @kubernetes/client-node is not (it costs ~80 MB)', () => {
    const root = resolve(import.meta.dirname, '..', '..');
    const hook = `data:text/javascript,${encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        if (result.url.includes('/@kubernetes/client-node/')) process.stdout.write('LOADED ' + result.url + '\\n');
        return result;
      }`)}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
    const script = `await import(${JSON.stringify(join(root, 'dist', 'operator', 'commands', 'run.js'))}); await import(${JSON.stringify(join(root, 'dist', 'operator', 'manager.js'))}); console.log('IMPORTED');`;
    const out = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: root });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /IMPORTED/, 'the modules were imported (run `npm run build` first)');
    assert.doesNotMatch(out.stdout, /LOADED/);
  });
});
