#!/usr/bin/env node
'use strict';
// The `durasync` command. Runs the CLI from TypeScript source in a checkout (through tsx) or from
// dist/ when built (`npm run build`, or DURASYNC_USE_DIST=1). Where the system Node is older than
// 22, it re-runs itself under the Node 24 that scripts/setup.sh put in .tools/node.
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  const toolsNode = path.join(root, '.tools', 'node', 'bin', 'node');
  if (!fs.existsSync(toolsNode)) {
    process.stderr.write(`durasync: needs Node 22 or newer (this is ${process.version}); run 'npm run setup' first\n`);
    process.exit(1);
  }
  const child = require('node:child_process').spawn(toolsNode, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  process.on('SIGINT', () => undefined); // the terminal sends Ctrl-C to the child too
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + require('node:os').constants.signals[signal] : 1)));
} else {
  // main() is called here, not on import: under npx, a global install or `npm link` this file is
  // reached through a link named `durasync`, which the CLI module cannot recognise as its entry.
  const source = path.join(root, 'client', 'cli.ts');
  let cli;
  if (fs.existsSync(source) && !process.env.DURASYNC_USE_DIST) {
    require('tsx/cjs');
    cli = require(source);
  } else {
    cli = require(path.join(root, 'dist', 'client', 'cli.js'));
  }
  void cli.main(process.argv);
}
