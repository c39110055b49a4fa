"""How IDL names become Python names.

The rules, applied in order (the wire always keeps the IDL name):

1. a `pilota.name` annotation, if present, replaces the IDL name;
2. names that start with `__` would be name-mangled by Python inside a class,
   so they are prefixed with `x` (`__id` → `x__id`);
3. Python keywords, `self`, and names the generated code needs where the name
   is bound (its own aliases `_p`, `_t`...; the builtins it uses, such as
   `list` or `object`; a generated member; an enum's or an int's members) get
   a trailing `_` until they are none of those (`from` → `from_`, `list` →
   `list_`); a definition, an enum value or a method, used from outside its
   module or class, that would start with `_` is prefixed with `x` (see
   `public_name`);
4. whatever still collides within its scope gets further `_` until unique.
"""

from __future__ import annotations

import keyword
import re

from pilota import ir

# Names generated modules bind for themselves.
MODULE_PRIVATE = frozenset({"_p", "_t", "_enum", "_uuid", "annotations"})
# Members every generated struct has (from pilota.runtime.Struct).
STRUCT_MEMBERS = frozenset(
    {"to_bytes", "from_bytes", "_field_values", "_state", "_unknown_fields", "mro"}
)
UNION_MEMBERS = STRUCT_MEMBERS | {"kind", "value"}
EXCEPTION_MEMBERS = STRUCT_MEMBERS | {"args", "with_traceback", "add_note"}
# Members of generated handler and client classes.
SERVICE_MEMBERS = frozenset({"self", "call", "_call", "close", "_caller"})
# Members of every IntEnum, which an enum value name must not replace.
ENUM_MEMBERS = frozenset({"name", "value", "mro"})
# An IntEnum's value is also an int: its members must not replace int's either
# (the type checkers refuse it), nor take the names `enum` reserves.
INT_MEMBERS = frozenset(
    {
        "as_integer_ratio", "bit_count", "bit_length", "conjugate", "denominator",
        "from_bytes", "imag", "is_integer", "numerator", "real", "to_bytes",
    }
)  # fmt: skip
# The builtins generated Thrift modules use: in annotations, values, and the
# bodies of generated methods. No name the module or a method binds may take
# one (tests/test_codegen_names.py checks the list against the generated code).
GENERATED_BUILTINS = frozenset(
    {
        "bool", "bytes", "classmethod", "dict", "float", "frozenset", "int", "list",
        "NotImplementedError", "object", "set", "str", "tuple",
    }
)  # fmt: skip

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def python_name(
    name: str, annotations: ir.Annotations = (), reserved: frozenset[str] = frozenset()
) -> str:
    """The Python spelling of an IDL name (rules 1 to 3 above)."""
    renamed = ir.annotation(annotations, "pilota.name")
    if renamed and _IDENTIFIER.match(renamed):
        name = renamed
    if name.startswith("__"):
        name = "x" + name
    while keyword.iskeyword(name) or name == "self" or name in reserved:
        name += "_"
    return name


def public_name(
    name: str, annotations: ir.Annotations = (), reserved: frozenset[str] = frozenset()
) -> str:
    """`python_name`, for a name used from outside its module or class (a
    definition, an enum value, a service method): one that would start with `_` is
    prefixed with `x`, as rule 2 does, since the type checkers take it for private
    (an unused private class is an error, and so is importing one; in an enum, it
    is no member) and Python's enum reserves `_sunder_` names (`_x_`, `_missing_`)."""
    name = python_name(name, annotations, reserved)
    while name.startswith("_"):
        name = python_name("x" + name, (), reserved)
    return name


def enum_member_name(name: str, annotations: ir.Annotations = ()) -> str:
    """The Python spelling of an enum value's name (see `public_name`)."""
    return public_name(name, annotations, ENUM_MEMBERS | INT_MEMBERS)


def unique(name: str, taken: set[str], reserved: frozenset[str] = frozenset()) -> str:
    """`name`, with `_` appended until it is in neither `taken` nor `reserved` (the
    `_` that clears one must not land on the other); records the result."""
    while name in taken or name in reserved:
        name += "_"
    taken.add(name)
    return name


def module_segment(name: str) -> str:
    """A dotted-namespace segment or file stem as a Python module name."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not cleaned or cleaned[0].isdigit():
        cleaned = "_" + cleaned
    return cleaned + "_" if keyword.iskeyword(cleaned) else cleaned


def snake_case(name: str) -> str:
    """`SayHello` → `say_hello`, `userID` → `user_id`, `HTTPServer` → `http_server`;
    a name in snake_case already is left as it is."""
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words)
    return words.lower()


def cased(name: str, snake: bool, special: frozenset[str]) -> str:
    """A method's or field's name in the case generation was asked for: the IDL's
    own, or snake_case unless the name is one of the `special` ones."""
    return snake_case(name) if snake and name not in special else name
