// Packaging: `npm pack` bundles the library (prepack), and the tarball,
// installed elsewhere with no repository around it and no PUSHBUS_LIB,
// loads its prebuild through both entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PACKAGE_DIR } from './helpers.mjs';

test('the packed tarball installs elsewhere and loads its bundled prebuild', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pushbus-pack-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const env = { ...process.env };
    const out = execFileSync(npm, ['pack', '--silent', '--pack-destination', dir], { cwd: PACKAGE_DIR, env, encoding: 'utf8' });
    const tarball = path.join(dir, out.trim().split('\n').pop());
    assert.ok(existsSync(tarball), `no tarball: ${out}`);
    assert.equal(existsSync(path.join(PACKAGE_DIR, 'prebuilds')), false, 'postpack removes the prebuild from the tree');
    const app = path.join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
    execFileSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', tarball], { cwd: app, env });
    const files = readdirSync(path.join(app, 'node_modules', 'pushbus', 'prebuilds'));
    assert.deepEqual(files, [`${process.platform}-${process.arch}`]);
    const childEnv = { ...process.env };
    delete childEnv.PUSHBUS_LIB;
    const cjs = execFileSync(
      process.execPath,
      ['-e', "const p = require('pushbus'); const b = new p.Bus(); b.publish('t', 'x'); console.log(p.librarySource || '', p.libraryPath); b.close()"],
      { cwd: app, env: childEnv, encoding: 'utf8' }
    );
    assert.ok(cjs.includes(path.join('node_modules', 'pushbus', 'prebuilds')), cjs);
    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "import { Bus, libraryPath } from 'pushbus'; new Bus().close(); console.log(libraryPath)"],
      { cwd: app, env: childEnv, encoding: 'utf8' }
    );
    assert.ok(esm.includes('prebuilds'), esm);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
