"""The rules of `volo idl diff`: each with a stable id, a level and one line of why.

Levels, from the strictest guarantee to the loosest:

- wire: an old and a new peer can no longer exchange bytes (binary protobuf,
  Thrift binary/compact) and mean the same thing;
- json: the binary encoding still works, but field- or name-based encodings
  (ProtoJSON) break;
- source: the bytes are fine, but code generated from the IDL changes under
  the code that uses it;
- warning: not a break, but worth a look.

Choosing a level enforces that level and the stricter ones (`--level json`
checks wire and JSON rules). Ids never change once released; a rule that is
retired keeps its id reserved.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.IntEnum):
    WIRE = 1
    JSON = 2
    SOURCE = 3
    WARNING = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: Level
    summary: str
    # A hazard, not a break: today's bytes still read the same, but the change
    # lets a later one misread them (a freed number). Not counted when two
    # different types are compared for compatibility.
    hazard: bool = False


_W, _J, _S, _X = Level.WIRE, Level.JSON, Level.SOURCE, Level.WARNING

_RULES = [
    # ---- wire ----
    Rule("field-wire-type-changed", _W,
         "a field number kept with a type encoded differently: readers skip the field or "
         "misread it"),
    Rule("field-integer-range-changed", _W,
         "an integer field changed width or signedness within one encoding (int32 to int64, "
         "fixed32 to sfixed32, bool): values outside the common range are truncated or change "
         "sign"),
    Rule("field-string-bytes-changed", _W,
         "a field changed between string and bytes/binary: bytes that are not UTF-8 are refused by "
         "string readers"),
    Rule("field-cardinality-changed", _W,
         "a protobuf field changed between singular and repeated or map: singular readers keep one "
         "element and skip packed numbers, repeated readers gain elements nobody wrote"),
    Rule("field-encoding-changed", _W,
         "a protobuf message field changed between length-prefixed and delimited (group) encoding"),
    Rule("field-removed", _W,
         "a field was removed without reserving its number (protobuf), or at all (Thrift has no "
         "`reserved`): the number can come back with another type; a removed required field also "
         "fails old readers", hazard=True),
    Rule("field-renumbered", _W,
         "a field kept its name but changed its number: old and new peers no longer see each "
         "other's value"),
    Rule("field-requiredness-changed", _W,
         "a field became required or stopped being required: a reader that requires it fails when "
         "a writer omits it"),
    Rule("required-field-added", _W,
         "a new required field (or argument): readers fail on everything written by peers that do "
         "not know it"),
    Rule("field-oneof-changed", _W,
         "an existing field joined, left or changed its oneof: setting one member clears the "
         "others, so values written together are lost"),
    Rule("reserved-number-removed", _W,
         "a reserved field or enum number is no longer reserved, so it can come back with another "
         "meaning", hazard=True),
    Rule("enum-value-removed", _W,
         "an enum number was removed without reserving it, or from an enum whose readers drop "
         "numbers they do not know (closed protobuf enums, Thrift's Java peers)"),
    Rule("enum-value-renumbered", _W,
         "an enum value kept its name but changed its number"),
    Rule("enum-closedness-changed", _W,
         "a protobuf enum changed between open and closed: closed readers drop unknown numbers "
         "into the unknown fields"),
    Rule("struct-union-changed", _W,
         "a Thrift struct became a union or back: union readers refuse values with other than "
         "exactly one field set"),
    Rule("method-removed", _W, "a method was removed or renamed: calls to it fail"),
    Rule("method-request-changed", _W,
         "a gRPC method's request type changed to one encoded differently"),
    Rule("method-response-changed", _W,
         "a method's response changed to a type encoded differently, or between void and a value"),
    Rule("method-streaming-changed", _W,
         "a gRPC method changed client or server streaming: the call's framing no longer matches"),
    Rule("method-oneway-changed", _W,
         "a Thrift method became oneway or stopped being: one side waits for a reply the other "
         "never sends"),
    Rule("method-exceptions-changed", _W,
         "a Thrift method's exceptions changed (added, removed, renumbered, retyped): the client "
         "cannot read what the server throws, and a void method then reports success"),
    Rule("service-removed", _W, "a service was removed: calls to it fail"),
    Rule("service-name-changed", _W,
         "a service was renamed or moved to another package: gRPC (/package.Service/Method) and "
         "multiplexed Thrift (Service:method) name it in every call"),
    # ---- json ----
    Rule("field-json-type-changed", _J,
         "a field's type changed in a way the binary encoding accepts but JSON does not (enum and "
         "int32, map and repeated entries, enums of other value names)"),
    Rule("field-json-name-changed", _J,
         "a protobuf field's name or json_name changed: ProtoJSON keys fields by name"),
    Rule("enum-value-json-name-changed", _J,
         "a protobuf enum value was renamed: ProtoJSON writes and reads enum values by name"),
    Rule("removed-name-not-reserved", _J,
         "a protobuf field or enum value was removed without reserving its name: JSON readers "
         "refuse old JSON that uses it, and the name can come back with another meaning",
         hazard=True),
    Rule("reserved-name-removed", _J,
         "a reserved name is no longer reserved, so it can come back with another meaning in JSON",
         hazard=True),
    # ---- source ----
    Rule("definition-removed", _S,
         "a type, enum or typedef was removed, or its name now denotes another kind of definition"),
    Rule("definition-moved", _S,
         "a definition moved to another file or package: its generated module and import change"),
    Rule("definition-renamed", _S,
         "a definition was renamed (same shape under a new name): generated class names change"),
    Rule("file-renamed", _S,
         "an IDL file was renamed or moved: the module generated from it moves"),
    Rule("namespace-changed", _S,
         "a Thrift namespace, a protobuf package or a language package option changed: generated "
         "code moves"),
    Rule("field-renamed", _S,
         "a Thrift field, argument or exception was renamed: generated attributes and keyword "
         "arguments change"),
    Rule("enum-value-renamed", _S, "a Thrift enum value was renamed: generated members change"),
    Rule("oneof-renamed", _S, "a protobuf oneof was renamed: generated accessors change"),
    Rule("field-type-changed", _S,
         "a field's declared type changed in a way both encodings accept (an i32 for an enum, a "
         "struct of the same shape under another name): generated types change"),
    Rule("field-presence-changed", _S,
         "a field's presence changed (proto3 implicit and `optional`; Thrift optional and "
         "default-requiredness with a default): generated types and presence checks change"),
    Rule("struct-kind-changed", _S,
         "a Thrift struct became an exception or back: the generated class changes base"),
    Rule("service-extends-changed", _S,
         "a Thrift service extends another service, or none (the methods it serves are compared "
         "by the method rules)"),
    # ---- warning ----
    Rule("default-changed", _X,
         "a field's default value changed: readers fill absent fields differently"),
    Rule("const-changed", _X, "a constant's value or type changed"),
    Rule("const-removed", _X, "a constant was removed"),
    Rule("namespace-removed", _X, "a namespace or language package option was removed"),
    Rule("newly-deprecated", _X, "a field, value, method or definition was marked deprecated"),
    Rule("field-id-gap-filled", _X,
         "a new field takes a number below the highest existing one: often a recycled number of "
         "a removed field"),
    Rule("closed-enum-value-added", _X,
         "a value was added to a closed protobuf enum: old readers drop it into unknown fields"),
]  # fmt: skip

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def list_rules() -> str:
    """Every rule, grouped by level, one line each: what `--list-rules` prints."""
    lines: list[str] = []
    width = max(len(r.id) for r in _RULES)
    for level in Level:
        lines.append(f"{level.label}:")
        lines += [f"  {r.id:<{width}}  {r.summary}" for r in _RULES if r.level is level]
    return "\n".join(lines)
