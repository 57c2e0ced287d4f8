#!/usr/bin/env node
// The `apiaccess` command: runs the compiled CLI in dist/ (`npm run build`, run by `npm ci` through
// `prepare`). Plain JavaScript on purpose: no TypeScript loader at run time.
// `apiaccess proxy --probe --port=N` is the proxy sidecar's startupProbe, which the kubelet runs in
// every Proxy-mode Pod: it goes straight to the probe, without commander and the CLI's modules.
const args = process.argv.slice(2);
const probe = args[0] === 'proxy' && args.includes('--probe') ? await import('../../dist/operator/proxy/probe.js') : undefined;
const port = probe?.probePort(args);
if (port !== undefined) {
  process.exitCode = await probe.probeExitCode(port);
} else {
  const { main } = await import('../../dist/operator/cli.js');
  process.exitCode = await main(process.argv);
}
