"""A posted body is read one of two ways (chat.c): in place when it has the
shape clients send, ``{"user":"..","text":".."}`` compact with printable
ASCII strings (read_plain_post), and by jansson otherwise. Both must give
the same answer and publish the same payload. Each case is posted as
clients send it and again with a space after every colon, which only
jansson reads; bodies at the edge of the shape are checked against what
any JSON reader makes of them."""

from __future__ import annotations

import json
import random
from typing import List, Optional, Tuple

import pytest

from conftest import Server
from wire import exchange, request

LONG_TEXT = "x" * 4096
# What random fields are made of: plain ASCII, what JSON escapes, and
# characters of two to four bytes in UTF-8.
ALPHABET = "aZ09 -_.~<>/" + '"\\' + "\t\n\r\x00\x1f\x7f" + "é€😀\u2028"


def post(server: Server, room: str, body: bytes) -> Tuple[int, Optional[str]]:
    """The status and, for an error, its reason."""
    response = exchange(server.port, request(f"/rooms/{room}/messages", "POST",
                                             {"Content-Type": "application/json"}, body), "POST")
    assert response is not None
    return response.status, None if response.status == 201 else json.loads(response.body)["error"]


def published(server: Server, room: str) -> List[object]:
    """The data of every message in the room, oldest first."""
    response = exchange(server.port, request(f"/rooms/{room}/poll"))
    assert response is not None and response.status == 200
    return [message["data"] for message in json.loads(response.body)["messages"]]


def encoded(fields: dict, separators: Tuple[str, str]) -> bytes:
    return json.dumps(fields, separators=separators, ensure_ascii=False).encode()


@pytest.mark.parametrize("user, text", [
    ("ann", "hi"),
    ("ann", "#0000000000000001.00000000deadbeef.xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ("a" * 32, "at the longest user"),
    ("a" * 33, "one character too many"),
    ("ann", LONG_TEXT),
    ("ann", LONG_TEXT + "x"),
    ("", "no user"),
    ("ann", ""),
    ("ann", 'a "quoted" \\ word'),
    ("ann", "tab\tand\nnewline and \x00 and \x7f"),
    ("ann", "</script><script>alert(1)</script>"),
    ("änn", "héllo 😀"),
    ("ann", "{\"user\":\"x\",\"text\":\"y\"}"),
], ids=["short", "bench", "user-32", "user-33", "text-4096", "text-4097", "no-user", "no-text", "escapes",
        "controls", "script", "non-ascii", "nested-json"])
def test_both_readings_agree(server: Server, room: str, user: str, text: str) -> None:
    fields = {"user": user, "text": text}
    compact = post(server, room, encoded(fields, (",", ":")))
    spaced = post(server, room, encoded(fields, (", ", ": ")))
    assert compact == spaced
    if compact[0] == 201:
        assert published(server, room) == [fields, fields]
    else:
        assert compact[0] == 400 and published(server, room) == []


@pytest.mark.parametrize("body, status, data", [
    (b'{"user":"ann","text":"hi"} ', 201, {"user": "ann", "text": "hi"}),
    (b'{"user":"ann","text":"hi"}\r\n', 201, {"user": "ann", "text": "hi"}),
    (b'{"user":"ann","text":"hi"}x', 400, None),
    (b'{"user":"ann","text":"hi"}}', 400, None),
    (b'{"user":"ann","text":"hi"', 400, None),
    (b'{"user":"ann","text":"hi', 400, None),
    (b'{"user":"ann","text":"hi","extra":[1]}', 201, {"user": "ann", "text": "hi"}),
    (b'{"user":"ann","text":"h\\u0069"}', 201, {"user": "ann", "text": "hi"}),
    (b'{"user":"ann","text":"a\tb"}', 400, None),
    (b'{"user":"ann","text":"a\xffb"}', 400, None),
    (b'{"user":"ann","text":"a\\ud800b"}', 400, None),
    (b'{"user":"ann","text":2}', 400, None),
    (b'{"user":"ann","text":"hi","user":"bob"}', 201, {"user": "bob", "text": "hi"}),
    (b'{"text":"hi","user":"ann"}', 201, {"user": "ann", "text": "hi"}),
], ids=["trailing-space", "trailing-crlf", "trailing-garbage", "extra-brace", "unclosed-object",
        "unclosed-string", "extra-member", "escaped-letter", "raw-tab", "bad-utf8", "lone-surrogate",
        "number-text", "repeated-user", "reordered"])
def test_bodies_at_the_edge_of_the_shape(server: Server, room: str, body: bytes, status: int,
                                         data: Optional[dict]) -> None:
    assert post(server, room, body)[0] == status
    assert published(server, room) == ([] if data is None else [data])


@pytest.mark.parametrize("seed", range(8))
def test_random_fields_read_both_ways_agree(server: Server, room: str, seed: int) -> None:
    """Random users and texts, mostly plain (the in-place path) and sometimes not."""
    rng = random.Random(seed)
    for _ in range(12):
        plain = rng.random() < 0.5
        alphabet = ALPHABET[:12] if plain else ALPHABET
        fields = {"user": "".join(rng.choices(alphabet, k=rng.randint(0, 34))),
                  "text": "".join(rng.choices(alphabet, k=rng.randint(0, 60)))}
        before = published(server, room)
        compact = post(server, room, encoded(fields, (",", ":")))
        spaced = post(server, room, encoded(fields, (", ", ": ")))
        assert compact == spaced, fields
        assert published(server, room) == before + ([fields, fields] if compact[0] == 201 else []), fields


@pytest.mark.parametrize("stop", [b"\x00", b"\x1f", b" ", b"~", b"\x7f", b"\x80", b"\xc3\xa9", b"\xff", b'\\"', b"\\\\",
                                  b"\t"],
                         ids=["nul", "us", "space", "tilde", "del", "bare-continuation", "e-acute", "ff", "quote",
                              "backslash", "tab"])
def test_a_byte_anywhere_in_a_word_reads_both_ways_alike(server: Server, room: str, stop: bytes) -> None:
    # The in-place reader scans eight bytes at a time from the start of each
    # field: the byte goes at every place of the first three words and of a
    # short last one, raw into the body, and the compact and spaced bodies
    # (jansson alone reads the spaced one) must get the same answer.
    for place in range(20):
        for length in sorted({place + 1, place + 8, 24}):
            text = b"x" * place + stop + b"y" * (length - place - 1)
            compact = b'{"user":"' + text[:place % 12] + b'u","text":"' + text + b'"}'
            spaced = b'{"user": "' + text[:place % 12] + b'u", "text": "' + text + b'"}'
            case = f"{room}-{place}-{length}"
            answers = post(server, case, compact), post(server, case, spaced)
            assert answers[0] == answers[1], (place, length)
            messages = published(server, case)
            assert len(messages) == (2 if answers[0][0] == 201 else 0), (place, length)
            assert messages[:1] == messages[1:], (place, length)
