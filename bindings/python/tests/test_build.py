"""The build step that turns include/pushbus.h into cffi declarations."""

from __future__ import annotations

import sys
from pathlib import Path

import cffi
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python" / "build_backend"))

from pushbus_cdef import HeaderError, cdef_from_header  # noqa: E402

import pushbus  # noqa: E402


def test_real_header_parses_and_matches_the_loaded_library() -> None:
    cdef = cdef_from_header((ROOT / "include" / "pushbus.h").read_text())
    assert "#if" not in cdef and "#include" not in cdef and "__cplusplus" not in cdef
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    from pushbus._ffi import ffi as built

    # The wheel was made from the same header: same layouts.
    for struct in ("pushbus_event", "pushbus_start", "pushbus_stats", "pushbus_frames", "pushbus_ws_message"):
        assert ffi.sizeof(struct) == built.sizeof(struct)
    assert "typedef uint32_t pushbus_status;" in cdef
    assert pushbus._lib.PUSHBUS_LOST_UNKNOWN == 2**64 - 1


def test_conditionals_as_a_c11_compiler() -> None:
    src = """
#ifndef G
#define G
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
extern int cxx_or_c23;
#elif __STDC_VERSION__ >= 201112L && !defined(NOPE)
extern int c11;
#else
extern int older;
#endif
#ifdef __cplusplus
extern "C" {
#endif
#define N 0x10u
#define BIG UINT64_MAX
int f(void);
#endif
"""
    out = cdef_from_header(src)
    assert "int c11;" in out and "cxx_or_c23" not in out and "older" not in out
    assert 'extern "C"' not in out
    assert "#define N 0x10" in out and "#define BIG 0xFFFFFFFFFFFFFFFF" in out
    cffi.FFI().cdef(out)


@pytest.mark.parametrize("bad", ["#define X foo(1)\n", "#define F(x) x\n", "#error no\n", "#if 1\n", "#endif\n",
                                 "#if __import__('os')\n#endif\n"])
def test_unknown_constructs_fail_the_build(bad: str) -> None:
    with pytest.raises(HeaderError):
        cdef_from_header(bad)
