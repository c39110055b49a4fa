"""Per-class Python encoders for the pure-Python codec.

A generic interpreter pays for every field: a call per value, a lookup of
its type, a dispatch on it. Here each class's spec is turned once, at first
use, into the source of one function that does exactly that class's work,
with the same type and range checks inline; `exec` compiles it.

These functions only ever succeed or give up: on anything unexpected they
raise, and `_pure` re-runs its interpreter, which raises the canonical
`EncodeError`. So behaviour stays exactly the interpreter's.
"""

from __future__ import annotations

import struct as _struct
import uuid as _uuid
from collections.abc import Callable
from typing import Any

from pilota.runtime._helpers import enum_value, freeze
from pilota.runtime.types import (
    BINARY,
    BOOL,
    BYTE,
    DOUBLE,
    ENUM,
    I16,
    I32,
    I64,
    INT_RANGES,
    LIST,
    MAP,
    REQUIRED,
    SET,
    STRING,
    STRUCT,
    UUID,
    TypeSpec,
    never_none,
)
from pilota.runtime.varint import encode_varint

Encoder = Callable[[Any, bytearray, int], None]

MAX_DEPTH = 200  # as the interpreter: deeper values (or cycles) are refused


class GiveUp(Exception):
    """Hand this value to the interpreter."""


def _code(t: TypeSpec) -> int:
    return t if isinstance(t, int) else int(t[0])


_BINARY_WIRE = {BOOL: 2, BYTE: 3, I16: 6, I32: 8, I64: 10, DOUBLE: 4, STRING: 11, BINARY: 11,
                UUID: 16, STRUCT: 12, LIST: 15, SET: 14, MAP: 13, ENUM: 8}  # fmt: skip
_COMPACT_WIRE = {BOOL: 1, BYTE: 3, I16: 4, I32: 5, I64: 6, DOUBLE: 7, STRING: 8, BINARY: 8,
                 UUID: 13, STRUCT: 12, LIST: 9, SET: 10, MAP: 11, ENUM: 5}  # fmt: skip

_RUNTIME: dict[str, Any] = {
    "GiveUp": GiveUp,
    "UUID": _uuid.UUID,
    "pack_b": _struct.Struct(">b").pack,
    "pack_h": _struct.Struct(">h").pack,
    "pack_i": _struct.Struct(">i").pack,
    "pack_q": _struct.Struct(">q").pack,
    "pack_d": _struct.Struct(">d").pack,
    "pack_d_le": _struct.Struct("<d").pack,
    "pack_bi": _struct.Struct(">bi").pack,
    "pack_bbi": _struct.Struct(">bbi").pack,
    "MAX_DEPTH": MAX_DEPTH,
}




def _zigzag(n: int, out: bytearray) -> None:
    encode_varint((n << 1) ^ (n >> 63), out)


_RUNTIME["varint"] = encode_varint
_RUNTIME["zigzag"] = _zigzag


class _Compiler:
    """Writes the source of one class's encoder for one protocol."""

    def __init__(self, compact: bool, encoders: dict[type, Encoder]) -> None:
        self.compact = compact
        self.encoders = encoders
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.fresh("k")
        self.names[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def wire(self, t: TypeSpec) -> int:
        return (_COMPACT_WIRE if self.compact else _BINARY_WIRE)[_code(t)]

    def struct_function(self, cls: type) -> str:
        from pilota.runtime.base import Union

        spec = cls.__thrift_spec__  # type: ignore[attr-defined]
        self.emit(0, "def encode(obj, out, depth):")
        self.emit(1, "if depth > MAX_DEPTH: raise GiveUp")
        if issubclass(cls, Union):
            members = " + ".join(f"(obj.{f.name} is not None)" for f in spec) or "0"
            self.emit(1, f"if {members} != 1: raise GiveUp")
        if self.compact:
            self.emit(1, "last = 0")
        for f in spec:
            self.emit(1, f"v = obj.{f.name}")
            self.emit(1, "if v is None:")
            must_be_set = f.required == REQUIRED or never_none(f)
            self.emit(2, "raise GiveUp" if must_be_set else "pass")
            self.emit(1, "else:")
            code = _code(f.type)
            if self.compact:
                if code == BOOL:
                    self.emit(2, "if v is True: w = 1")
                    self.emit(2, "elif v is False: w = 2")
                    self.emit(2, "else: raise GiveUp")
                    self.field_header(2, "w", f.id)
                else:
                    self.field_header(2, str(self.wire(f.type)), f.id)
                    self.value(2, "v", f.type)
            else:
                header = bytes([self.wire(f.type)]) + f.id.to_bytes(2, "big", signed=True)
                self.emit(2, f"out += {header!r}")
                self.value(2, "v", f.type)
        self.emit(1, "out.append(0)")
        return "\n".join(self.lines)

    def field_header(self, indent: int, wire: str, fid: int) -> None:
        # The previous field written is only known at run time (fields may be unset).
        self.emit(
            indent, f"if last < {fid} <= last + 15: out.append((({fid} - last) << 4) | {wire})"
        )
        self.emit(indent, f"else: out.append({wire}); zigzag({fid}, out)")
        self.emit(indent, f"last = {fid}")

    def check_int(self, indent: int, expr: str, code: int) -> None:
        low, high = INT_RANGES[code]
        self.emit(
            indent, f"if {expr}.__class__ is bool or not isinstance({expr}, int): raise GiveUp"
        )
        self.emit(indent, f"if not {low} <= {expr} <= {high}: raise GiveUp")

    def value(self, indent: int, expr: str, t: TypeSpec) -> None:
        code = _code(t)
        emit = self.emit
        if code in (I32, ENUM, I64, I16, BYTE):
            self.check_int(indent, expr, code)
            if self.compact and code != BYTE:
                emit(indent, f"zigzag({expr}, out)")
            else:
                packer = {
                    I32: "pack_i",
                    ENUM: "pack_i",
                    I64: "pack_q",
                    I16: "pack_h",
                    BYTE: "pack_b",
                }[code]
                emit(indent, f"out += {packer}({expr})")
        elif code in (STRING, BINARY):
            data = self.fresh("s")
            if code == STRING:
                emit(indent, f"if not isinstance({expr}, str): raise GiveUp")
                emit(indent, f"{data} = {expr}.encode()")
            else:
                emit(indent, f"if {expr}.__class__ is not bytes: raise GiveUp")
                data = expr
            if self.compact:
                emit(indent, f"varint(len({data}), out)")
            else:
                emit(indent, f"out += pack_i(len({data}))")
            emit(indent, f"out += {data}")
        elif code == BOOL:
            on, off = (1, 2) if self.compact else (1, 0)
            emit(indent, f"if {expr} is True: out.append({on})")
            emit(indent, f"elif {expr} is False: out.append({off})")
            emit(indent, "else: raise GiveUp")
        elif code == DOUBLE:
            emit(
                indent,
                f"if {expr}.__class__ is bool or not isinstance({expr}, int | float): raise GiveUp",
            )
            emit(indent, f"out += {'pack_d_le' if self.compact else 'pack_d'}(float({expr}))")
        elif code == UUID:
            emit(indent, f"if not isinstance({expr}, UUID): raise GiveUp")
            emit(indent, f"out += {expr}.bytes")
        elif code == STRUCT:
            cls = self.constant(t[1])  # type: ignore[index]
            encoders = self.constant(self.encoders)
            emit(indent, f"if not isinstance({expr}, {cls}): raise GiveUp")
            emit(indent, f"{encoders}[{expr}.__class__](({expr}), out, depth + 1)")
        elif code == MAP:
            key_t, value_t = t[1], t[2]  # type: ignore[index]
            emit(indent, f"if not isinstance({expr}, dict): raise GiveUp")
            if self.compact:
                emit(indent, f"if not {expr}: out.append(0)")
                emit(indent, "else:")
                emit(indent + 1, f"varint(len({expr}), out)")
                emit(indent + 1, f"out.append({self.wire(key_t) << 4 | self.wire(value_t)})")
                inner = indent + 1
            else:
                emit(
                    indent,
                    f"out += pack_bbi({self.wire(key_t)}, {self.wire(value_t)}, len({expr}))",
                )
                inner = indent
            key, item = self.fresh("k"), self.fresh("v")
            emit(inner, f"for {key}, {item} in {expr}.items():")
            self.value(inner + 1, key, key_t)
            self.value(inner + 1, item, value_t)
        else:  # LIST or SET
            element = t[1]  # type: ignore[index]
            kinds = "list | tuple" if code == LIST else "set | frozenset"
            emit(indent, f"if not isinstance({expr}, {kinds}): raise GiveUp")
            wire = self.wire(element)
            if self.compact:
                emit(indent, f"if len({expr}) < 15: out.append((len({expr}) << 4) | {wire})")
                emit(indent, f"else: out.append({0xF0 | wire}); varint(len({expr}), out)")
            else:
                emit(indent, f"out += pack_bi({wire}, len({expr}))")
            item = self.fresh("e")
            emit(indent, f"for {item} in {expr}:")
            self.value(indent + 1, item, element)


def compile_encoder(cls: type, compact: bool, encoders: dict[type, Encoder]) -> Encoder:
    compiler = _Compiler(compact, encoders)
    source = compiler.struct_function(cls)
    namespace = {**_RUNTIME, **compiler.names}
    exec(compile(source, f"<pilota encoder for {cls.__qualname__}>", "exec"), namespace)
    encoder: Encoder = namespace["encode"]
    return encoder


class EncoderTable(dict[type, Encoder]):
    """Encoders by class, compiled on first use (recursive types included)."""

    def __init__(self, compact: bool) -> None:
        super().__init__()
        self.compact = compact

    def __missing__(self, cls: type) -> Encoder:
        if not hasattr(cls, "__thrift_spec__") or getattr(cls, "__thrift_keep_unknown__", False):
            raise GiveUp
        encoder = compile_encoder(cls, self.compact, self)
        self[cls] = encoder
        return encoder


BINARY_ENCODERS = EncoderTable(compact=False)
COMPACT_ENCODERS = EncoderTable(compact=True)


# ---- binary decoders --------------------------------------------------------------------

# (data, pos, end, depth, max_depth, left) -> (value, pos); `left` holds how many
# more structs and containers the message may build (the interpreter's budget).
Decoder = Callable[[bytes, int, int, int, int, list[int]], tuple[Any, int]]

_MIN_SIZE = {2: 1, 3: 1, 6: 2, 8: 4, 10: 8, 4: 8, 11: 4, 12: 1, 13: 6, 14: 5, 15: 5, 16: 16}
_UNPACK = {I32: ("i", 4), ENUM: ("i", 4), I64: ("q", 8), I16: ("h", 2), DOUBLE: ("d", 8)}


_RUNTIME.update(
    unpack_from=_struct.unpack_from,
    frozen=freeze,
    enum_value=enum_value,
)


class _DecoderCompiler(_Compiler):
    """Writes the source of one class's binary decoder. It walks the input with a
    local `pos`, checks every length and count against what is left, and counts
    nesting and objects built exactly as the interpreter does; anything else, it
    gives up on."""

    def struct_function(self, cls: type) -> str:
        from pilota.runtime.base import Union

        spec = cls.__thrift_spec__  # type: ignore[attr-defined]
        new = self.constant(cls.__new__)
        klass = self.constant(cls)
        emit = self.emit
        emit(0, "def decode(data, pos, end, depth, max_depth, left):")
        emit(1, "depth += 1")
        emit(1, "if depth > max_depth: raise GiveUp")
        emit(1, "left[0] -= 1")
        emit(1, "if left[0] < 0: raise GiveUp")
        emit(1, f"obj = {new}({klass})")
        for f in spec:
            emit(1, f"s{f.id & 0xFFFF} = False")
        emit(1, "while True:")
        emit(2, "if pos >= end: raise GiveUp")
        emit(2, "wire = data[pos]")
        emit(2, "if wire == 0:")
        emit(3, "pos += 1")
        emit(3, "break")
        emit(2, "if pos + 3 > end: raise GiveUp")
        emit(2, "fid = (data[pos + 1] << 8 | data[pos + 2]) - ((data[pos + 1] & 0x80) << 9)")
        emit(2, "pos += 3")
        keyword = "if"
        for f in spec:
            emit(2, f"{keyword} fid == {f.id}:")
            keyword = "elif"
            emit(3, f"if wire != {_BINARY_WIRE[_code(f.type)]}: raise GiveUp")
            self.read(3, "v", f.type, frozen=False)
            emit(3, f"obj.{f.name} = v")
            emit(3, f"s{f.id & 0xFFFF} = True")
        emit(
            2, "else: raise GiveUp" if spec else "raise GiveUp"
        )  # unknown fields: the interpreter skips
        for f in spec:
            emit(1, f"if not s{f.id & 0xFFFF}:")
            if f.required == REQUIRED:
                emit(2, "raise GiveUp")
            elif f.required == 2 and f.default_factory is not None:  # DEFAULT with a factory
                emit(2, "left[0] -= 1")
                emit(2, "if left[0] < 0: raise GiveUp")
                emit(2, f"obj.{f.name} = {self.constant(f.default_factory)}()")
            elif f.required == 2:
                emit(2, f"obj.{f.name} = {self.constant(f.default)}")
            else:
                emit(2, f"obj.{f.name} = None")
        if issubclass(cls, Union):
            count = " + ".join(f"s{f.id & 0xFFFF}" for f in spec) or "0"
            emit(1, f"if {count} != 1: raise GiveUp")
        emit(1, "return obj, pos")
        return "\n".join(self.lines)

    def read(self, indent: int, target: str, t: TypeSpec, frozen: bool) -> None:
        """Emit code that reads one value of type `t` into `target`."""
        code = _code(t)
        emit = self.emit
        if code in _UNPACK:
            fmt, size = _UNPACK[code]
            emit(indent, f"if pos + {size} > end: raise GiveUp")
            emit(indent, f"{target} = unpack_from('>{fmt}', data, pos)[0]")
            emit(indent, f"pos += {size}")
            if code == ENUM:
                emit(indent, f"{target} = enum_value({self.constant(t[1])}, {target})")  # type: ignore[index]
        elif code in (STRING, BINARY):
            n = self.fresh("n")
            emit(indent, "if pos + 4 > end: raise GiveUp")
            emit(indent, f"{n} = unpack_from('>i', data, pos)[0]")
            emit(indent, "pos += 4")
            emit(indent, f"if {n} < 0 or {n} > end - pos: raise GiveUp")
            decode = ".decode()" if code == STRING else ""
            emit(indent, f"{target} = data[pos:pos + {n}]{decode}")
            emit(indent, f"pos += {n}")
        elif code in (BOOL, BYTE):
            emit(indent, "if pos >= end: raise GiveUp")
            if code == BOOL:
                emit(indent, f"{target} = data[pos] != 0")
            else:
                emit(indent, f"{target} = data[pos] - 256 if data[pos] > 127 else data[pos]")
            emit(indent, "pos += 1")
        elif code == UUID:
            emit(indent, "if pos + 16 > end: raise GiveUp")
            emit(indent, f"{target} = UUID(bytes=data[pos:pos + 16])")
            emit(indent, "pos += 16")
        elif code == STRUCT:
            decoders = self.constant(self.encoders)
            cls = self.constant(t[1])  # type: ignore[index]
            emit(
                indent,
                f"{target}, pos = {decoders}[{cls}](data, pos, end, depth, max_depth, left)",
            )
        else:
            self.read_container(indent, target, t, frozen)

    def read_container(self, indent: int, target: str, t: TypeSpec, frozen: bool) -> None:
        code = _code(t)
        emit = self.emit
        n, i = self.fresh("n"), self.fresh("i")
        emit(indent, "if depth + 1 > max_depth: raise GiveUp")
        emit(indent, "depth += 1")
        if code == MAP:
            key_t, value_t = t[1], t[2]  # type: ignore[index]
            kw, vw = _BINARY_WIRE[_code(key_t)], _BINARY_WIRE[_code(value_t)]
            emit(indent, "if pos + 6 > end: raise GiveUp")
            emit(
                indent,
                "if data[pos] not in _MIN_SIZE or data[pos + 1] not in _MIN_SIZE: raise GiveUp",
            )
            emit(indent, f"{n} = unpack_from('>i', data, pos + 2)[0]")
            emit(
                indent,
                f"if {n} < 0 or {n} * (_MIN_SIZE[data[pos]] + _MIN_SIZE[data[pos + 1]]) > end - pos - 6: raise GiveUp",
            )
            emit(indent, f"if {n} and (data[pos] != {kw} or data[pos + 1] != {vw}): raise GiveUp")
            self.spend_container(indent, n, _heavy(key_t) + _heavy(value_t))
            emit(indent, "pos += 6")
            result, key, item = self.fresh("m"), self.fresh("k"), self.fresh("v")
            emit(indent, f"{result} = {{}}")
            emit(indent, f"for {i} in range({n}):")
            self.read(indent + 1, key, key_t, True)
            self.read(indent + 1, item, value_t, frozen)
            emit(indent + 1, f"{result}[{key}] = {item}")
        else:
            element = t[1]  # type: ignore[index]
            ew = _BINARY_WIRE[_code(element)]
            emit(indent, "if pos + 5 > end: raise GiveUp")
            emit(indent, "if data[pos] not in _MIN_SIZE: raise GiveUp")
            emit(indent, f"{n} = unpack_from('>i', data, pos + 1)[0]")
            emit(indent, f"if {n} < 0 or {n} * _MIN_SIZE[data[pos]] > end - pos - 5: raise GiveUp")
            emit(indent, f"if {n} and data[pos] != {ew}: raise GiveUp")
            self.spend_container(indent, n, _heavy(element))
            emit(indent, "pos += 5")
            result = self.fresh("l")
            element_code = _code(element)
            if code == LIST and element_code in (I32, I64, I16, DOUBLE):
                fmt, size = _UNPACK[element_code]
                emit(indent, f"{result} = list(unpack_from('>%d{fmt}' % {n}, data, pos))")
                emit(indent, f"pos += {size} * {n}")
            else:
                item = self.fresh("e")
                emit(indent, f"{result} = []")
                emit(indent, f"for {i} in range({n}):")
                self.read(indent + 1, item, element, frozen or code == SET)
                emit(indent + 1, f"{result}.append({item})")
                if code == SET:
                    emit(indent, f"{result} = set({result})")
        emit(indent, "depth -= 1")
        emit(indent, f"{target} = frozen({result})" if frozen else f"{target} = {result}")


    def spend_container(self, indent: int, n: str, per_item: int) -> None:
        """The container, and room for its items (as the interpreter's spend_container)."""
        items = f" + {n} * {per_item}" if per_item else ""
        self.emit(indent, f"if 1{items} > left[0]: raise GiveUp")
        self.emit(indent, "left[0] -= 1")


def _heavy(t: TypeSpec) -> int:
    return 1 if _code(t) in (STRUCT, LIST, SET, MAP) else 0


_RUNTIME["_MIN_SIZE"] = _MIN_SIZE


class DecoderTable(dict[type, Decoder]):
    """Binary decoders by class, compiled on first use."""

    def __missing__(self, cls: type) -> Decoder:
        if not hasattr(cls, "__thrift_spec__") or getattr(cls, "__thrift_keep_unknown__", False):
            raise GiveUp
        compiler = _DecoderCompiler(False, self)  # type: ignore[arg-type]
        source = compiler.struct_function(cls)
        namespace = {**_RUNTIME, **compiler.names}
        exec(compile(source, f"<pilota decoder for {cls.__qualname__}>", "exec"), namespace)
        decoder: Decoder = namespace["decode"]
        self[cls] = decoder
        return decoder


BINARY_DECODERS = DecoderTable()
