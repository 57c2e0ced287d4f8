#!/usr/bin/env node
// The `apiaccess` command: runs the compiled CLI in dist/ (`npm run build`, run by `npm ci` through
// `prepare`). Plain JavaScript on purpose: no TypeScript loader at run time.
import { main } from '../../dist/operator/cli.js';

process.exitCode = await main(process.argv);
