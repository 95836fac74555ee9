'use strict';
// `npm pack` / `npm publish` hook: bundles the built library as a prebuild
// (prebuilds/<platform>-<arch>/), so that the tarball works without the
// repository and without any install script. `--clean` (postpack) removes
// it again, so the working tree keeps loading the repository's build.
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.resolve(__dirname, '..');
const prebuilds = path.join(packageDir, 'prebuilds');

if (process.argv.includes('--clean')) {
  fs.rmSync(prebuilds, { recursive: true, force: true });
  process.exit(0);
}

const name = process.platform === 'darwin' ? 'libpushbus.dylib' : process.platform === 'win32' ? 'pushbus.dll' : 'libpushbus.so';
const source = process.env.PUSHBUS_LIB
  ? path.resolve(process.env.PUSHBUS_LIB)
  : path.resolve(packageDir, '..', '..', 'target', 'release', name);
if (!fs.existsSync(source)) {
  console.error(`prepack: ${source} does not exist: run \`cargo build --release\` at the repository root first`);
  process.exit(1);
}
const dir = path.join(prebuilds, `${process.platform}-${process.arch}`);
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(source, path.join(dir, name));
console.error(`prepack: bundled ${source} as prebuilds/${process.platform}-${process.arch}/${name}`);
