// Runs inside `unshare --mount --net` (see sandbox.ts): sets up the Pod's view of the world, then runs
// the command in it. Everything here changes only this process's mount and network namespaces; new
// directories at in-pod paths are created inside overlays whose writable layer is a temp folder,
// so the host's filesystem never gains /var/run/secrets/... or /etc/kip.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';

export interface InsideSpec {
  /** Bind mounts, applied in order. */
  readonly mounts: readonly { readonly source: string; readonly target: string; readonly readOnly: boolean }[];
  readonly hostsFile: string;
  /** Temp folder for the overlays' upper and work layers. */
  readonly overlayDir: string;
  /** Unix socket of the forwarder outside, which connects to the real API server. */
  readonly socketPath: string;
  readonly serviceIP: string;
  readonly servicePort: number;
  readonly env: Readonly<Record<string, string>>;
  readonly command: readonly string[];
  readonly workingDir: string;
  /** Setup failures go here rather than into the command's stderr. */
  readonly setupErrorFile: string;
}

// ip and mount live in sbin folders, which a CI user's PATH may lack.
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function sh(program: string, ...args: string[]): void {
  execFileSync(program, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: SYSTEM_PATH } });
}

function setUpNetwork(spec: InsideSpec): void {
  sh('ip', 'link', 'set', 'lo', 'up');
  sh('ip', 'addr', 'add', `${spec.serviceIP}/32`, 'dev', 'lo');
}

/** Makes `target` exist (as a directory or a file like `source`) without writing to the host. */
function ensureMountPoint(spec: InsideSpec, target: string, asFile: boolean, overlays: Set<string>): void {
  if (existsSync(target)) return;
  let ancestor = dirname(target);
  while (!existsSync(ancestor)) ancestor = dirname(ancestor);
  const real = realpathSync(ancestor);
  if (real === '/') throw new Error(`Cannot create ${target}: its nearest existing parent is /, which the sandbox does not overlay`);
  if (!overlays.has(real)) {
    const layer = join(spec.overlayDir, String(overlays.size));
    mkdirSync(join(layer, 'upper'), { recursive: true });
    mkdirSync(join(layer, 'work'), { recursive: true });
    sh('mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${real},upperdir=${layer}/upper,workdir=${layer}/work`, real);
    overlays.add(real);
  }
  if (asFile) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, '');
  } else {
    mkdirSync(target, { recursive: true });
  }
}

function setUpMounts(spec: InsideSpec): void {
  const overlays = new Set<string>();
  for (const mount of [...spec.mounts, { source: spec.hostsFile, target: '/etc/hosts', readOnly: false }]) {
    ensureMountPoint(spec, mount.target, statSync(mount.source).isFile(), overlays);
    sh('mount', '--bind', mount.source, mount.target);
    if (mount.readOnly) sh('mount', '-o', 'remount,bind,ro', mount.target);
  }
}

/** Listens on <service IP>:443 in this network namespace and tunnels to the API server outside. */
async function startForwarder(spec: InsideSpec): Promise<Server> {
  const server = createServer((client: Socket) => {
    const upstream = connect(spec.socketPath);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(spec.servicePort, spec.serviceIP, resolve));
  return server;
}

async function runCommand(spec: InsideSpec): Promise<number> {
  const [program, ...args] = spec.command;
  return await new Promise<number>((resolve) => {
    const child = spawn(program!, args, { cwd: spec.workingDir, env: { ...spec.env }, stdio: 'inherit' });
    child.on('error', (error) => {
      process.stderr.write(`${program}: ${error.message}\n`);
      resolve(127);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(specFile: string): Promise<number> {
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as InsideSpec;
  let server: Server;
  try {
    setUpNetwork(spec);
    setUpMounts(spec);
    server = await startForwarder(spec);
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    writeFileSync(spec.setupErrorFile, `${error instanceof Error ? error.message : String(error)}\n${stderr}`);
    return 125;
  }
  const code = await runCommand(spec);
  server.close();
  return code;
}

main(process.argv[2] ?? '').then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[sandbox] ${String(error)}\n`);
    process.exit(125);
  },
);
