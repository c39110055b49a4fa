"""Fuzzing the IDL parsers: valid files with tokens deleted, repeated or inserted.

Whatever the damage, parsing ends (no exception, no endless recovery) with
either a tree and no errors or no tree and 1 to MAX_SYNTAX_ERRORS errors,
each located inside the file and each further on than the one before.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilota.diagnostics import Diagnostics
from pilota.lark_support import MAX_SYNTAX_ERRORS
from pilota.proto.parser import ProtoParser
from pilota.thrift.parser import parse_thrift

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
TOKEN = re.compile(r"\w+|[^\w\s]")
THRIFT = (Path(__file__).parent / "idl" / "rich.thrift").read_text()
PROTO = """syntax = "proto3";
package fuzz.v1;
import "other.proto";
option java_package = "fuzz";
// A message with most kinds of statement.
message Order {
  message Line { string sku = 1; int32 count = 2 [deprecated = true]; }
  enum State { STATE_UNSPECIFIED = 0; PAID = 1; SHIPPED = 2; }
  int64 id = 1;
  repeated Line lines = 2;
  map<string, int32> tags = 3;
  oneof payment { string card = 4; string voucher = 5; }
  State state = 6 [json_name = "st"];
  reserved 7, 9 to 11;
  reserved "old";
  option (fuzz.opt) = { a: 1 b: "x" c: [1, 2] };
}
enum Kind { KIND_UNSPECIFIED = 0; BIG = 1; }
service Orders {
  rpc Get(Order) returns (Order);
  rpc Watch(stream Order) returns (stream Order) { option deprecated = true; }
}
"""
PROTO_PARSER = ProtoParser()
MUTATIONS = st.lists(
    st.tuples(st.integers(0, 10**6), st.sampled_from(["delete", "repeat", "insert"]),
              st.sampled_from(["=", "{", "}", ";", ",", "<", ")", "x", "1", '"'])),
    min_size=1, max_size=4,
)  # fmt: skip


def mutate(text: str, mutations: list[tuple[int, str, str]]) -> str:
    for where, how, extra in mutations:
        tokens = list(TOKEN.finditer(text))
        token = tokens[where % len(tokens)]
        replacement = {"delete": "", "repeat": token.group() * 2, "insert": extra + token.group()}
        text = text[: token.start()] + replacement[how] + text[token.end() :]
    return text


def check_outcome(result: object, diagnostics: Diagnostics, text: str) -> None:
    errors = [d for d in diagnostics.sorted() if d.is_error]
    assert (result is None) == bool(errors)
    assert len(errors) <= MAX_SYNTAX_ERRORS
    lines = text.split("\n")
    places = []
    for error in errors:
        assert error.location is not None and error.message
        line, col = error.location.line, error.location.col
        assert 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1
        places.append((line, col))
    assert places == sorted(set(places))  # each further on than the last


@FUZZ
@given(MUTATIONS)
def test_damaged_thrift_gets_errors_not_exceptions(mutations: list[tuple[int, str, str]]) -> None:
    text = mutate(THRIFT, mutations)
    diagnostics = Diagnostics()
    check_outcome(parse_thrift(text, "main.thrift", diagnostics), diagnostics, text)


@FUZZ
@given(MUTATIONS)
def test_damaged_proto_gets_errors_not_exceptions(mutations: list[tuple[int, str, str]]) -> None:
    text = mutate(PROTO, mutations)
    diagnostics = Diagnostics()
    check_outcome(PROTO_PARSER.parse(text, "main.proto", diagnostics), diagnostics, text)


def test_the_samples_parse() -> None:
    """The fuzzing starts from files that are valid."""
    for text, parse in ((THRIFT, parse_thrift), (PROTO, PROTO_PARSER.parse)):
        diagnostics = Diagnostics()
        check_outcome(parse(text, "main", diagnostics), diagnostics, text)
        assert not diagnostics.sorted()


@pytest.mark.parametrize("language", ["thrift", "proto"])
def test_one_slip_gives_one_or_two_errors(language: str) -> None:
    """Each single-token slip (a token dropped, doubled, or an `=` before it)
    is reported, and recovery does not turn it into a cascade: at most two
    errors, where one slip can honestly break two things (`x = }` lacks
    both a value and a `;`)."""
    text, parse = (THRIFT, parse_thrift) if language == "thrift" else (PROTO, PROTO_PARSER.parse)
    counts = []
    for token in TOKEN.finditer(text):
        word, at, end = token.group(), token.start(), token.end()
        for slipped in (text[:at] + text[end:], f"{text[:at]}{word} {text[at:]}",
                        f"{text[:at]}= {text[at:]}"):  # fmt: skip
            diagnostics = Diagnostics()
            check_outcome(parse(slipped, "main", diagnostics), diagnostics, slipped)
            counts.append(len(diagnostics.errors))
    assert max(counts) <= 2
    assert counts.count(2) <= len(counts) // 100
