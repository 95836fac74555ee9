"""Turns include/pushbus.h into declarations that cffi's ``cdef`` accepts.

cffi parses C declarations but no preprocessor: no ``#include``, no
``#if``, and ``#define`` only with an integer literal. The header is written
for C and C++ compilers (cbindgen's ``cpp_compat``, a C23 enum base), so this
module evaluates its conditionals the way a C11 compiler would and drops
everything cffi cannot take. Anything it does not understand is an error at
build time, never a silently wrong binding.
"""

from __future__ import annotations

import re
from typing import Dict, List

# What a C11 compiler (not C++) sees.
_PREDEFINED: Dict[str, int] = {"__STDC_VERSION__": 201112}

# Macros from <stdint.h> that the header may use as constant values.
_STDINT_VALUES: Dict[str, str] = {
    "UINT64_MAX": "0xFFFFFFFFFFFFFFFF",
    "UINT32_MAX": "0xFFFFFFFF",
    "UINT16_MAX": "0xFFFF",
    "UINT8_MAX": "0xFF",
    "INT64_MAX": "0x7FFFFFFFFFFFFFFF",
    "INT32_MAX": "0x7FFFFFFF",
}

_INT_LITERAL = re.compile(r"^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*$")
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")


class HeaderError(ValueError):
    """The header holds something this cleaner does not understand."""


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _evaluate(expr: str, defines: Dict[str, str]) -> bool:
    original = expr
    expr = re.sub(
        r"defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)",
        lambda m: "1" if (m.group(1) or m.group(2)) in defines else "0",
        expr,
    )

    def name_value(match: "re.Match[str]") -> str:
        word = match.group(0)
        if _INT_LITERAL.match(word):
            return re.sub(r"[uUlL]+$", "", word)
        value = defines.get(word)
        if value is not None and _INT_LITERAL.match(value):
            return re.sub(r"[uUlL]+$", "", value)
        return "0"  # C: an undefined identifier is 0 in #if

    expr = re.sub(r"\b\w+\b", name_value, expr)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    if not re.fullmatch(r"[\s0-9xXa-fA-F()<>=!notandr]*", expr):
        raise HeaderError(f"cannot evaluate #if {original!r}")
    try:
        return bool(eval(expr, {"__builtins__": {}}, {}))  # noqa: S307 - digits and operators only
    except SyntaxError as error:
        raise HeaderError(f"cannot evaluate #if {original!r}") from error


def cdef_from_header(header: str) -> str:
    """Returns the header's declarations as cffi's ``cdef`` accepts them."""
    defines: Dict[str, str] = {k: str(v) for k, v in _PREDEFINED.items()}
    # Each entry: (this branch is active, some branch of this #if was taken,
    # the enclosing region is active).
    stack: List[List[bool]] = []
    out: List[str] = []

    def active() -> bool:
        return all(frame[0] for frame in stack)

    for lineno, line in enumerate(_strip_comments(header).splitlines(), 1):
        directive = _DIRECTIVE.match(line)
        if directive is None:
            if active():
                out.append(line)
            continue
        name, rest = directive.group(1), directive.group(2)
        if name in ("if", "ifdef", "ifndef"):
            if name == "ifdef":
                taken = rest in defines
            elif name == "ifndef":
                taken = rest not in defines
            else:
                taken = _evaluate(rest, defines)
            stack.append([taken, taken])
        elif name == "elif":
            if not stack:
                raise HeaderError(f"line {lineno}: #elif without #if")
            frame = stack[-1]
            taken = not frame[1] and _evaluate(rest, defines)
            frame[0], frame[1] = taken, frame[1] or taken
        elif name == "else":
            if not stack:
                raise HeaderError(f"line {lineno}: #else without #if")
            frame = stack[-1]
            frame[0], frame[1] = not frame[1], True
        elif name == "endif":
            if not stack:
                raise HeaderError(f"line {lineno}: #endif without #if")
            stack.pop()
        elif not active():
            continue
        elif name == "include":
            continue  # cffi knows the standard integer types, size_t and bool
        elif name == "define":
            parts = rest.split(None, 1)
            macro = parts[0]
            if "(" in macro:
                raise HeaderError(f"line {lineno}: function-like macro {macro}")
            value = parts[1].strip() if len(parts) > 1 else ""
            value = _STDINT_VALUES.get(value, value)
            defines[macro] = value
            if value == "":
                continue  # an include guard or a flag
            if not _INT_LITERAL.match(value):
                raise HeaderError(f"line {lineno}: #define {macro} {value} is not an integer")
            out.append(f"#define {macro} {re.sub(r'[uUlL]+$', '', value)}")
        elif name in ("pragma", "undef"):
            if name == "undef":
                defines.pop(rest, None)
        else:
            raise HeaderError(f"line {lineno}: unsupported directive #{name}")
    if stack:
        raise HeaderError("unterminated #if")
    text = "\n".join(out)
    return re.sub(r"\n\s*\n+", "\n", text).strip() + "\n"
