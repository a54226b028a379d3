import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * The `durasync` command runs however a user starts it: `npx durasync`, a global install and `npm
 * link` (which reach bin/durasync.js through a link named `durasync`), `npm run durasync --` and
 * `node bin/durasync.js`. Each is run as a user types it, under the project's Node 24 first on PATH,
 * and must print the help: a silent exit 0 fails.
 */
const ROOT = path.resolve(__dirname, '..');
const TOOLS_BIN = path.join(ROOT, '.tools', 'node', 'bin');
const PATH_WITH_NODE_24 = existsSync(TOOLS_BIN) ? `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}` : (process.env.PATH ?? '');

function sh(command: string, env: Record<string, string> = {}, cwd = ROOT): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd, env: { ...process.env, PATH: PATH_WITH_NODE_24, NODE_OPTIONS: '', ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const HELP = /^Usage: durasync \[options\] \[command\]$/m;

describe('the durasync command, however it is started', () => {
  let prefix: string;

  beforeAll(async () => {
    prefix = await mkdtemp(path.join(os.tmpdir(), 'durasync-global-'));
  });
  afterAll(async () => {
    await rm(prefix, { recursive: true, force: true });
  });

  it('runs under the Node 24 that the project provides', async () => {
    const { code, out } = await sh('node --version');
    expect(code).toBe(0);
    expect(Number(/^v(\d+)\./m.exec(out)?.[1])).toBeGreaterThanOrEqual(24);
  });

  it.each([
    ['npx durasync --help'],
    ['npm run --silent durasync -- --help'],
    ['node bin/durasync.js --help'],
  ])('prints the help for `%s`', async (command) => {
    const { code, out } = await sh(command);
    expect({ code, help: HELP.test(out) }).toEqual({ code: 0, help: true });
  });

  it('prints the help from a global install and from npm link', async () => {
    const install = await sh(`npm install --global --prefix "${prefix}" --no-audit --no-fund --ignore-scripts "${ROOT}"`);
    expect(install.code).toBe(0);
    const installed = await sh(`"${prefix}/bin/durasync" --help`, {}, os.tmpdir());
    expect({ code: installed.code, help: HELP.test(installed.out) }).toEqual({ code: 0, help: true });
    await sh(`npm uninstall --global --prefix "${prefix}" durasync`);

    const link = await sh('npm link --no-audit --no-fund --ignore-scripts', { npm_config_prefix: prefix });
    expect(link.code).toBe(0);
    const linked = await sh('durasync --help', { PATH: `${prefix}/bin${path.delimiter}${PATH_WITH_NODE_24}` }, os.tmpdir());
    expect({ code: linked.code, help: HELP.test(linked.out) }).toEqual({ code: 0, help: true });
  });

  it('re-runs itself under .tools/node when started by an older system Node', async () => {
    const systemNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
    if (!systemNode) return; // no second Node on this machine: nothing older to start it with
    const { code, out } = await sh(`"${systemNode}" bin/durasync.js --help`);
    expect({ code, help: HELP.test(out) }).toEqual({ code: 0, help: true });
  });
});
