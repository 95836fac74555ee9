#!/usr/bin/env bash
# Builds the pushbus wheel with maturin (cffi bindings) and installs it into
# a venv under target/python (nothing goes into the system Python). Used by
# bindings/python/test.sh and examples/python/test.sh.
#
#   PUSHBUS_ISOLATED=1 bindings/python/build.sh
#       builds as `pip install ./bindings/python` does on a fresh machine
#       (an isolated build environment fetched from PyPI)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/python"
venv="$out/venv"
python="${PYTHON:-python3}"
export PATH="$venv/bin:$PATH"  # maturin's PEP 517 hooks run the `maturin` binary

# One build at a time (test scripts may run in parallel).
mkdir -p "$out"
exec 9>"$out/build.lock"
flock 9

# A venv of our own: nothing is installed into the system Python.
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements-dev.txt" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements-dev.txt"
    cp "$here/requirements-dev.txt" "$stamp"
fi

# The wheel: maturin builds the cdylib with cargo (reusing target/) and
# bundles it with an ABI-mode cffi loader: one py3-none-<platform> wheel.
rm -rf "$out/wheels"
isolation=(--no-build-isolation)
if [[ "${PUSHBUS_ISOLATED:-0}" == 1 ]]; then isolation=(); fi
"$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps "${isolation[@]}" \
    -w "$out/wheels" "$here"
wheel=("$out"/wheels/pushbus-*.whl)
case "$(basename "${wheel[0]}")" in
    pushbus-*-py3-none-*.whl) echo "wheel: $(basename "${wheel[0]}")" ;;
    *) echo "expected one py3-none wheel for every CPython 3, got ${wheel[*]}" >&2; exit 1 ;;
esac
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "${wheel[0]}"
