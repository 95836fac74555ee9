// The EventSource polyfill the page offers is Yaffle's event-source-polyfill
// (MIT), vendored unchanged from the version package.json pins, with its
// licence beside it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { WEB_ROOT } from './lib/paths.mjs';

const require = createRequire(import.meta.url);
const pkg = path.dirname(require.resolve('event-source-polyfill/package.json'));

test('examples/web carries the pinned event-source-polyfill, byte for byte, with its licence', () => {
  assert.ok(readFileSync(path.join(WEB_ROOT, 'eventsource-polyfill.min.js'))
    .equals(readFileSync(path.join(pkg, 'src/eventsource.min.js'))), 'eventsource-polyfill.min.js is the pinned release');
  assert.equal(readFileSync(path.join(WEB_ROOT, 'eventsource-polyfill.LICENSE'), 'utf8'),
    readFileSync(path.join(pkg, 'LICENSE'), 'utf8'));
});
