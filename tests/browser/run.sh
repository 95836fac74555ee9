#!/usr/bin/env bash
# The browser suite: the chat page (examples/web) in Debian's Chromium,
# driven by playwright-core, against each example server named (default:
# all four), directly and through Debian's nginx.
#
#   tests/browser/run.sh [SERVER...]      SERVER: c, c-asan, rust, python, node
#
# The servers must be built (`make servers`); one that is not fails its
# tests with the reason. Needs /usr/bin/chromium and /usr/sbin/nginx
# (apt-get install -y chromium nginx). Screenshots and logs go to
# target/browser-artifacts/. BROWSER_JOBS sets how many scenarios run at
# once (default 12); extra node --test options go in BROWSER_TEST_ARGS
# (e.g. --test-name-pattern=nginx).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for tool in "${CHROMIUM:-/usr/bin/chromium}" "${NGINX:-/usr/sbin/nginx}"; do
  [ -x "$tool" ] || { echo "tests/browser: $tool is missing (apt-get install -y chromium nginx)" >&2; exit 1; }
done
servers="${*:-c rust python node}"

(cd "$here" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
for server in $servers; do rm -rf "$root/target/browser-artifacts/$server"; done

cd "$here"
# shellcheck disable=SC2086 # BROWSER_TEST_ARGS is a list of options
BROWSER_SERVERS="$servers" exec node --test --test-reporter=spec ${BROWSER_TEST_ARGS:-} suite.test.mjs polyfill.test.mjs
