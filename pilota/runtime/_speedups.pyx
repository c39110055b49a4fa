# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, infer_types=True
"""Compiled Thrift binary and compact codecs.

Same behaviour as `_pure`, which is the reference. Each generated class's
`__thrift_spec__` is compiled once into a plan: a C array of fields holding
the slot offset of each attribute, its wire types and its nested type info.
Encoding reads slots straight from the instance; decoding allocates the
instance without calling `__init__` and fills its slots. No dict lookups or
attribute access by name happen per field.

Decoding raises its own `DecodeError`s, the pure codec's message and field
path for each (the path is built only when an error is raised), so a bad
input costs what a good one of its length costs. Encoding errors take the slow
path: when encoding fails here, the pure codec is run on the same value to
raise the canonical `EncodeError` with its field path.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Check, PyDict_GetItem, PyDict_New, PyDict_Next, PyDict_SetItem, PyDict_Size
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check, PyFloat_FromDouble
from cpython.list cimport PyList_Check, PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_AsLongLong, PyLong_Check, PyLong_FromLong, PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport Py_EQ, PyObject, PyObject_RichCompareBool, PyObject_TypeCheck, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from cpython.set cimport PyFrozenSet_Check, PySet_Add, PySet_Check
from cpython.tuple cimport PyTuple_Check, PyTuple_GET_ITEM, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_Check, PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, int8_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from pilota.runtime._buffer cimport (
    Buf,
    drop_in_turns,
    give_back,
    put_be,
    put_byte,
    put_bytes,
    put_le,
    put_varint,
    put_zigzag,
    reserve,
    take_buffer,
    turn_at,
)

import types
import uuid as _uuid

cimport cython

from pilota.runtime import _pure
from pilota.runtime import json_protocol as _json_protocol
from pilota.runtime.frozen import FrozenDict
from pilota.runtime._helpers import (
    DEFAULT_OBJECTS_PER_BYTE,
    OBJECT_ALLOWANCE,
    object_budget,
    too_many_objects,
)
from pilota.runtime.types import TYPE_NAMES, DecodeError, never_none
from pilota.runtime._buffer import turns_given

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyFrozenSet_New(object iterable)
    int PyBool_Check(object o)
    void PyErr_Clear()
    int PyGC_Disable()
    int PyGC_Enable()
    ctypedef Py_ssize_t Py_hash_t
    Py_hash_t PyObject_Hash(object o) except -1
    # Python's hash of bytes: SipHash, keyed per process (PYTHONHASHSEED)
    Py_hash_t hash_bytes "_Py_HashBytes"(const void* data, Py_ssize_t size)
    # NULL, with the error set, when the bytes are not UTF-8 (Cython's own
    # declaration would raise it: this lets text() replace it with a DecodeError)
    PyObject* decode_utf8 "PyUnicode_DecodeUTF8"(const char* s, Py_ssize_t size, const char* errors)

ctypedef object (*newfunc_t)(PyTypeObject*, object, PyObject*)

# Type codes (pilota.runtime.types), requiredness, and both protocols' wire types.
cdef enum:
    T_BOOL = 1
    T_BYTE = 2
    T_I16 = 3
    T_I32 = 4
    T_I64 = 5
    T_DOUBLE = 6
    T_STRING = 7
    T_BINARY = 8
    T_UUID = 9
    T_STRUCT = 10
    T_LIST = 11
    T_SET = 12
    T_MAP = 13
    T_ENUM = 14
    REQUIRED = 0
    OPTIONAL = 1
    DEFAULT = 2
    B_STOP = 0
    B_BOOL = 2
    B_BYTE = 3
    B_DOUBLE = 4
    B_I16 = 6
    B_I32 = 8
    B_I64 = 10
    B_STRING = 11
    B_STRUCT = 12
    B_MAP = 13
    B_SET = 14
    B_LIST = 15
    B_UUID = 16
    C_TRUE = 1
    C_FALSE = 2
    C_BYTE = 3
    C_I16 = 4
    C_I32 = 5
    C_I64 = 6
    C_DOUBLE = 7
    C_BINARY = 8
    C_LIST = 9
    C_SET = 10
    C_MAP = 11
    C_STRUCT = 12
    C_UUID = 13
    MAX_COMPILED_DEPTH = 200
    ENCODE_MAX_DEPTH = 200
    DENSE_INDEX_LIMIT = 256

cdef int BINARY_WIRE[15]
cdef int COMPACT_WIRE[15]
cdef int MIN_BINARY[15]
cdef int MIN_COMPACT[15]
BINARY_WIRE[:] = [0, B_BOOL, B_BYTE, B_I16, B_I32, B_I64, B_DOUBLE, B_STRING, B_STRING, B_UUID,
                  B_STRUCT, B_LIST, B_SET, B_MAP, B_I32]
COMPACT_WIRE[:] = [0, C_TRUE, C_BYTE, C_I16, C_I32, C_I64, C_DOUBLE, C_BINARY, C_BINARY, C_UUID,
                   C_STRUCT, C_LIST, C_SET, C_MAP, C_I32]
MIN_BINARY[:] = [0, 1, 1, 2, 4, 8, 8, 4, 4, 16, 1, 5, 5, 6, 4]
MIN_COMPACT[:] = [0, 1, 1, 1, 1, 1, 8, 1, 1, 16, 1, 1, 1, 1, 1]

cdef tuple EMPTY_TUPLE = ()
cdef int64_t OBJECT_ALLOWANCE_C = OBJECT_ALLOWANCE
# As Python objects: in a C context Cython reads `True` as the integer 1.
cdef object PY_TRUE = True
cdef object PY_FALSE = False
cdef object UUID = _uuid.UUID
cdef object MemberDescriptorType = types.MemberDescriptorType


class _Fallback(Exception):
    """Raised inside the encoder to hand the call to the pure codec."""


# How many encode calls failed here but then succeeded in the pure codec: a
# bug indicator that tests keep at zero. (Decoding never hands over.)
fallback_successes = 0


# ---- plans ----------------------------------------------------------------------------


cdef class TypeInfo:
    cdef int code
    cdef int bwire
    cdef int cwire
    cdef int min_b
    cdef int min_c
    cdef int heavy  # 1 for a struct or a container: it counts against the object budget
    cdef bint frozen  # decode as tuple / frozenset / FrozenDict (set members, map keys)
    cdef TypeInfo a  # list/set element, map key
    cdef TypeInfo b  # map value
    cdef object cls  # struct class or enum class
    cdef dict enum_map


ctypedef struct FieldC:
    int id
    int code
    int bwire
    int cwire
    int required
    bint must_be_set  # on encode: required, or typed without None (see types.never_none)
    bint container  # list, set or map: its elements' types are checked too
    Py_ssize_t offset
    PyObject* name  # the attribute's name (a str held by the FieldSpec), for error paths
    PyObject* info  # TypeInfo, owned by StructPlan.keep
    PyObject* default_value
    PyObject* factory


cdef class StructPlan:
    cdef FieldC* fields
    cdef Py_ssize_t n
    cdef object cls
    cdef list keep
    cdef bint is_union
    cdef bint plain  # no field is a list, set or map: the field values hash as they are
    cdef bint delegate  # this class needs the pure codec (unknown-field keeping, odd layout)
    cdef int fast  # 0: not yet known, 1: every struct reachable is compiled, -1: not
    cdef int min_id
    cdef int span
    cdef int* index  # id - min_id -> field index + 1, or NULL when ids are too sparse
    cdef dict by_id

    def __dealloc__(self):
        PyMem_Free(self.fields)
        PyMem_Free(self.index)


cdef dict _plans = {}


cdef TypeInfo make_type(object spec, bint frozen):
    cdef TypeInfo info = TypeInfo()
    cdef int code
    if isinstance(spec, int):
        code = spec
    else:
        code = spec[0]
    info.code = code
    info.bwire = BINARY_WIRE[code]
    info.cwire = COMPACT_WIRE[code]
    info.min_b = MIN_BINARY[code]
    info.min_c = MIN_COMPACT[code]
    info.heavy = code == T_STRUCT or code == T_LIST or code == T_SET or code == T_MAP
    info.frozen = frozen
    if code == T_LIST:
        info.a = make_type(spec[1], frozen)
    elif code == T_SET:
        info.a = make_type(spec[1], True)
    elif code == T_MAP:
        info.a = make_type(spec[1], True)
        info.b = make_type(spec[2], frozen)
    elif code == T_STRUCT:
        info.cls = spec[1]
    elif code == T_ENUM:
        info.cls = spec[1]
        info.enum_map = spec[1]._value2member_map_
    return info


cdef StructPlan plan_for(object cls):
    cdef PyObject* found = PyDict_GetItem(_plans, cls)
    if found != NULL:
        return <StructPlan>found
    cdef StructPlan plan = StructPlan()
    plan.cls = cls
    plan.keep = []
    _plans[cls] = plan  # before compiling fields: recursive types find it
    try:
        compile_plan(plan, cls)
    except Exception:
        plan.delegate = True
    return plan


cdef compile_plan(StructPlan plan, object cls):
    from pilota.runtime.base import Union

    spec = cls.__thrift_spec__
    plan.is_union = issubclass(cls, Union)
    if getattr(cls, "__thrift_keep_unknown__", False):
        plan.delegate = True
        return
    plan.n = len(spec)
    plan.fields = <FieldC*>PyMem_Malloc(max(plan.n, 1) * sizeof(FieldC))
    if plan.fields == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    cdef FieldC* f
    cdef TypeInfo info
    ids = []
    for i in range(plan.n):
        field = spec[i]
        descriptor = getattr(cls, field.name)
        if type(descriptor) is not MemberDescriptorType:
            raise TypeError("not a slot")
        info = make_type(field.type, False)
        plan.keep.append(info)
        plan.keep.append(field)
        f = &plan.fields[i]
        f.id = field.id
        f.code = info.code
        f.bwire = info.bwire
        f.cwire = info.cwire
        f.required = field.required
        f.must_be_set = field.required == REQUIRED or never_none(field)
        f.container = info.code == T_LIST or info.code == T_SET or info.code == T_MAP
        f.offset = (<PyMemberDescrObject*>descriptor).d_member.offset
        f.name = <PyObject*>field.name
        f.info = <PyObject*>info
        f.default_value = <PyObject*>field.default
        f.factory = <PyObject*>field.default_factory if field.default_factory is not None else NULL
        ids.append(field.id)
    plan.by_id = {fid: i for i, fid in enumerate(ids)}
    plan.plain = not any(plan.fields[i].container for i in range(plan.n))
    if ids and max(ids) - min(ids) < DENSE_INDEX_LIMIT:
        plan.min_id = min(ids)
        plan.span = max(ids) - plan.min_id + 1
        plan.index = <int*>PyMem_Malloc(plan.span * sizeof(int))
        if plan.index == NULL:
            raise MemoryError()
        for i in range(plan.span):
            plan.index[i] = 0
        for i in range(plan.n):
            plan.index[plan.fields[i].id - plan.min_id] = i + 1


cdef bint all_compiled(StructPlan plan):
    """Whether every struct reachable from `plan` is compiled (memoized)."""
    if plan.fast != 0:
        return plan.fast == 1
    plan.fast = 1  # provisional, so recursive types terminate
    cdef bint ok = not plan.delegate
    cdef Py_ssize_t i
    if ok:
        for i in range(plan.n):
            if not types_compiled(<TypeInfo>plan.fields[i].info):
                ok = False
                break
    plan.fast = 1 if ok else -1
    return ok


cdef bint types_compiled(TypeInfo info):
    if info.code == T_STRUCT:
        return all_compiled(plan_for(info.cls))
    if info.a is not None and not types_compiled(info.a):
        return False
    if info.b is not None and not types_compiled(info.b):
        return False
    return True


cdef inline StructPlan plan_of_value(object value, TypeInfo info):
    """The plan for a struct value declared as `info.cls` (or one of its subclasses)."""
    cls = type(value)
    if cls is not info.cls:
        if not PyObject_TypeCheck(value, <PyTypeObject*>info.cls):
            raise _Fallback()
        plan = plan_for(cls)
        if not all_compiled(plan):
            raise _Fallback()
        return plan
    return plan_for(cls)


cdef inline PyObject** slot(object obj, Py_ssize_t offset):
    return <PyObject**>((<char*><PyObject*>obj) + offset)


# ---- output buffer --------------------------------------------------------------------


cdef inline object finish(Buf* b):
    return PyBytes_FromStringAndSize(b.data, b.len)


# ---- encoding: checks shared by both protocols ----------------------------------------


cdef inline int64_t int_value(object value, int code) except? -1:
    if not PyLong_Check(value) or PyBool_Check(value):
        raise _Fallback()
    cdef int64_t n = PyLong_AsLongLong(value)  # raises OverflowError beyond 64 bits
    if code == T_I32 or code == T_ENUM:
        if n < -2147483648 or n > 2147483647:
            raise _Fallback()
    elif code == T_I16:
        if n < -32768 or n > 32767:
            raise _Fallback()
    elif code == T_BYTE:
        if n < -128 or n > 127:
            raise _Fallback()
    return n


cdef inline double double_value(object value) except? -1.0:
    if PyFloat_Check(value):
        return PyFloat_AS_DOUBLE(value)
    if PyLong_Check(value) and not PyBool_Check(value):
        return float(value)
    raise _Fallback()


cdef inline const char* text_value(object value, Py_ssize_t* size) except NULL:
    if not PyUnicode_Check(value):
        raise _Fallback()
    return PyUnicode_AsUTF8AndSize(value, size)


cdef inline bytes binary_value(object value):
    if PyBytes_Check(value):
        return <bytes>value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise _Fallback()


cdef inline bytes uuid_value(object value):
    if not isinstance(value, UUID):
        raise _Fallback()
    return value.bytes


# ---- binary encoding ------------------------------------------------------------------


cdef int enc_struct_b(Buf* b, object obj, StructPlan plan, int depth) except -1:
    if depth > ENCODE_MAX_DEPTH:
        raise _Fallback()
    cdef Py_ssize_t i
    cdef FieldC* f
    cdef PyObject* v
    cdef int count = 0
    for i in range(plan.n):
        f = &plan.fields[i]
        v = slot(obj, f.offset)[0]
        if v == NULL or v == <PyObject*>None:
            if f.must_be_set:
                raise _Fallback()
            continue
        count += 1
        put_byte(b, f.bwire)
        put_be(b, <uint16_t>f.id, 2)
        enc_value_b(b, <object>v, <TypeInfo>f.info, depth)
    if plan.is_union and count != 1:
        raise _Fallback()
    put_byte(b, B_STOP)
    return 0


cdef int enc_value_b(Buf* b, object value, TypeInfo info, int depth) except -1:
    cdef int code = info.code
    cdef Py_ssize_t size, i, pos
    cdef const char* data
    cdef PyObject* key
    cdef PyObject* item
    if code == T_STRING:
        data = text_value(value, &size)
        if size > 2147483647:
            raise _Fallback()
        put_be(b, <uint32_t>size, 4)
        put_bytes(b, data, size)
    elif code == T_I32 or code == T_ENUM:
        put_be(b, <uint32_t><int32_t>int_value(value, code), 4)
    elif code == T_I64:
        put_be(b, <uint64_t>int_value(value, code), 8)
    elif code == T_BOOL:
        if value is True:
            put_byte(b, 1)
        elif value is False:
            put_byte(b, 0)
        else:
            raise _Fallback()
    elif code == T_DOUBLE:
        put_double(b, double_value(value), True)
    elif code == T_I16:
        put_be(b, <uint16_t><int16_t>int_value(value, code), 2)
    elif code == T_BYTE:
        put_byte(b, <uint8_t><int8_t>int_value(value, code))
    elif code == T_BINARY:
        raw = binary_value(value)
        size = PyBytes_GET_SIZE(raw)
        if size > 2147483647:
            raise _Fallback()
        put_be(b, <uint32_t>size, 4)
        put_bytes(b, PyBytes_AS_STRING(raw), size)
    elif code == T_UUID:
        put_bytes(b, PyBytes_AS_STRING(uuid_value(value)), 16)
    elif code == T_STRUCT:
        enc_struct_b(b, value, plan_of_value(value, info), depth + 1)
    elif code == T_MAP:
        if not PyDict_Check(value):
            raise _Fallback()
        put_byte(b, info.a.bwire)
        put_byte(b, info.b.bwire)
        put_be(b, <uint32_t>PyDict_Size(value), 4)
        pos = 0
        while PyDict_Next(value, &pos, &key, &item):
            enc_value_b(b, <object>key, info.a, depth)
            enc_value_b(b, <object>item, info.b, depth)
    elif code == T_LIST:
        put_byte(b, info.a.bwire)
        if PyList_Check(value):
            size = PyList_GET_SIZE(value)
            put_be(b, <uint32_t>size, 4)
            i = 0
            while i < PyList_GET_SIZE(value):  # re-read: the list may not change, but be safe
                enc_value_b(b, <object>PyList_GET_ITEM(value, i), info.a, depth)
                i += 1
            if i != size:
                raise _Fallback()
        elif PyTuple_Check(value):
            size = PyTuple_GET_SIZE(value)
            put_be(b, <uint32_t>size, 4)
            for i in range(size):
                enc_value_b(b, <object>PyTuple_GET_ITEM(value, i), info.a, depth)
        else:
            raise _Fallback()
    elif code == T_SET:
        if not (PySet_Check(value) or PyFrozenSet_Check(value)):
            raise _Fallback()
        put_byte(b, info.a.bwire)
        put_be(b, <uint32_t>len(value), 4)
        for element in value:
            enc_value_b(b, element, info.a, depth)
    else:
        raise _Fallback()
    return 0


cdef inline int put_double(Buf* b, double value, bint big_endian) except -1:
    cdef uint64_t bits
    memcpy(&bits, &value, 8)
    if big_endian:
        return put_be(b, bits, 8)
    return put_le(b, bits, 8)


# ---- compact encoding -----------------------------------------------------------------


cdef inline int field_header_c(Buf* b, int wire, int fid, int last) except -1:
    if last < fid <= last + 15:
        return put_byte(b, ((fid - last) << 4) | wire)
    put_byte(b, wire)
    return put_zigzag(b, fid)


cdef int enc_struct_c(Buf* b, object obj, StructPlan plan, int depth) except -1:
    if depth > ENCODE_MAX_DEPTH:
        raise _Fallback()
    cdef Py_ssize_t i
    cdef FieldC* f
    cdef PyObject* v
    cdef int count = 0
    cdef int last = 0
    for i in range(plan.n):
        f = &plan.fields[i]
        v = slot(obj, f.offset)[0]
        if v == NULL or v == <PyObject*>None:
            if f.must_be_set:
                raise _Fallback()
            continue
        count += 1
        if f.code == T_BOOL:
            if v == <PyObject*>PY_TRUE:
                field_header_c(b, C_TRUE, f.id, last)
            elif v == <PyObject*>PY_FALSE:
                field_header_c(b, C_FALSE, f.id, last)
            else:
                raise _Fallback()
        else:
            field_header_c(b, f.cwire, f.id, last)
            enc_value_c(b, <object>v, <TypeInfo>f.info, depth)
        last = f.id
    if plan.is_union and count != 1:
        raise _Fallback()
    put_byte(b, 0)
    return 0


cdef int enc_value_c(Buf* b, object value, TypeInfo info, int depth) except -1:
    cdef int code = info.code
    cdef Py_ssize_t size, i, pos
    cdef const char* data
    cdef PyObject* key
    cdef PyObject* item
    if code == T_STRING:
        data = text_value(value, &size)
        if size > 2147483647:
            raise _Fallback()
        put_varint(b, <uint64_t>size)
        put_bytes(b, data, size)
    elif code == T_I32 or code == T_ENUM or code == T_I64 or code == T_I16:
        put_zigzag(b, int_value(value, code))
    elif code == T_BOOL:
        if value is True:
            put_byte(b, C_TRUE)
        elif value is False:
            put_byte(b, C_FALSE)
        else:
            raise _Fallback()
    elif code == T_DOUBLE:
        put_double(b, double_value(value), False)
    elif code == T_BYTE:
        put_byte(b, <uint8_t><int8_t>int_value(value, code))
    elif code == T_BINARY:
        raw = binary_value(value)
        size = PyBytes_GET_SIZE(raw)
        if size > 2147483647:
            raise _Fallback()
        put_varint(b, <uint64_t>size)
        put_bytes(b, PyBytes_AS_STRING(raw), size)
    elif code == T_UUID:
        put_bytes(b, PyBytes_AS_STRING(uuid_value(value)), 16)
    elif code == T_STRUCT:
        enc_struct_c(b, value, plan_of_value(value, info), depth + 1)
    elif code == T_MAP:
        if not PyDict_Check(value):
            raise _Fallback()
        size = PyDict_Size(value)
        if size == 0:
            put_byte(b, 0)
            return 0
        put_varint(b, <uint64_t>size)
        put_byte(b, (info.a.cwire << 4) | info.b.cwire)
        pos = 0
        while PyDict_Next(value, &pos, &key, &item):
            enc_value_c(b, <object>key, info.a, depth)
            enc_value_c(b, <object>item, info.b, depth)
    elif code == T_LIST or code == T_SET:
        if code == T_LIST:
            if not (PyList_Check(value) or PyTuple_Check(value)):
                raise _Fallback()
        elif not (PySet_Check(value) or PyFrozenSet_Check(value)):
            raise _Fallback()
        size = len(value)
        if size < 15:
            put_byte(b, (size << 4) | info.a.cwire)
        else:
            put_byte(b, 0xF0 | info.a.cwire)
            put_varint(b, <uint64_t>size)
        if PyList_Check(value):
            i = 0
            while i < PyList_GET_SIZE(value):
                enc_value_c(b, <object>PyList_GET_ITEM(value, i), info.a, depth)
                i += 1
            if i != size:
                raise _Fallback()
        else:
            for element in value:
                enc_value_c(b, element, info.a, depth)
    else:
        raise _Fallback()
    return 0


# ---- decoding -------------------------------------------------------------------------
#
# Every error is raised here, as the pure codec raises it: the same message at
# the same place. Its path (`.field[3][key]...`) is built only then, from a
# stack of frames the decoder keeps as it goes: the field it is in, the index
# of the list or set element, whether it is in a map's key or value (and which
# key). Pushing a frame is two stores, so a good input pays next to nothing
# for them, and a bad one costs what a good one of its length costs.
#
# The same frames say what is left of a field whose type changed: when a
# container's element, key or value type differs from the IDL's, the field is
# skipped from there on (the rest of that container, then the rest of each
# container around it), never re-read from its start; see element_mismatch.

cdef enum:
    FRAME_FIELD = 1  # ref: the FieldC being read
    FRAME_ELEMENT = 2  # a list or set element, at index
    FRAME_KEY = 3  # a map key (not part of the path, as in the pure codec)
    FRAME_VALUE = 4  # a map value; ref: its key, for the path
    # Frames never outnumber the levels entered (each container and each
    # struct's current field) plus one field; max_depth is at most this.
    MAX_FRAMES = MAX_COMPILED_DEPTH + 8


ctypedef struct Frame:
    int kind
    int wire_a  # a container's element or key wire type, as sent (and declared)
    int wire_b  # a map's value wire type; 0 for a list or set
    int depth  # the container's own depth
    int64_t index
    int64_t count
    void* ref


ctypedef struct Reader:
    const unsigned char* data
    Py_ssize_t pos
    Py_ssize_t end
    int depth
    int max_depth
    bint compact
    int64_t objects  # structs and containers built, and defaults made by factories
    int64_t budget  # how many of them this message may build
    int top  # frames in use
    PyObject* cls  # the top-level class, whose name starts every path
    Frame frames[MAX_FRAMES]


# How many values skip_b and skip_c have skipped, ever: the measure of the work
# skipping does, which tests read (values_skipped()) to check that a field
# whose type changed is skipped once, not once per level it is nested in.
cdef Py_ssize_t _values_skipped = 0


def values_skipped():
    return _values_skipped


class _Consumed(Exception):
    """The field being read came as another type than declared, found at a
    container's element, key or value type; the rest of it is skipped and the
    field left out (see _pure._Consumed)."""


# ---- errors ----

cdef str path_to(Reader* r, int top):
    cdef list parts = [(<object>r.cls).__name__]
    cdef int i
    cdef Frame* frame
    for i in range(top):
        frame = &r.frames[i]
        if frame.kind == FRAME_FIELD:
            parts.append("." + <str>(<FieldC*>frame.ref).name)
        elif frame.kind == FRAME_ELEMENT:
            parts.append(f"[{frame.index}]")
        elif frame.kind == FRAME_VALUE:
            parts.append(f"[{repr(<object>frame.ref)}]")
    return "".join(parts)


cdef int fail(Reader* r, str message, str suffix="") except -1:
    raise DecodeError(message, path_to(r, r.top) + suffix)


cdef int fail_end(Reader* r, Py_ssize_t n) except -1:
    return fail(r, f"unexpected end of data: {n} more bytes needed, {r.end - r.pos} left")


cdef int fail_count(Reader* r, object count, int min_size) except -1:
    if count < 0:
        return fail(r, f"negative size {count}")
    return fail(r, f"size {count} needs at least {count * min_size} bytes, {r.end - r.pos} left")


cdef int fail_budget(Reader* r) except -1:
    error = too_many_objects(r.budget)
    return fail(r, error.message)


cdef inline object big_varint(uint64_t low, unsigned int high):
    """A varint of more than 64 bits (the compact protocol allows 10 bytes), as a Python int."""
    return (<object>high << 64) | low


cdef int fail_zigzag(Reader* r, object n, int code) except -1:
    value = (n >> 1) ^ -(n & 1)
    return fail(r, f"value {value} is out of range for {TYPE_NAMES[code]}")


cdef int innermost_field(Reader* r):
    cdef int i = r.top - 1
    while r.frames[i].kind != FRAME_FIELD:
        i -= 1
    return i


cdef int element_mismatch(Reader* r, int got, int expected, int wire_a, int wire_b,
                          int64_t count) except -1:
    """A container's element (or key, or value) came as wire type `got`, not the
    declared `expected`: the field being read has changed type. A required field
    cannot be left out, so that is an error here; any other is skipped: this
    container's `count` items of `wire_a` (and `wire_b`, a map's value), then
    what is left of each container around it, up to the field."""
    cdef int field = innermost_field(r)
    if (<FieldC*>r.frames[field].ref).required == REQUIRED:
        return fail(r, f"wire type {got} does not match the declared type "
                       f"({'compact' if r.compact else 'binary'} type {expected})")
    cdef int top = r.top
    r.top = field + 1  # a skip's errors are located at the field, as in the pure codec
    skip_items(r, wire_a, wire_b, count)
    r.depth -= 1
    cdef int level
    cdef Frame* frame
    for level in range(top - 1, field, -1):
        frame = &r.frames[level]
        r.depth = frame.depth
        if frame.kind == FRAME_KEY:
            skip_element(r, frame.wire_b)
        skip_items(r, frame.wire_a, frame.wire_b, frame.count - frame.index - 1)
        r.depth -= 1
    raise _Consumed()


# ---- frames and budget ----

cdef Frame* frames_overflow() except NULL:
    raise AssertionError("decoder frames overflow")  # cannot happen: depth is bounded


cdef inline Frame* push(Reader* r, int kind) except NULL:
    if r.top >= MAX_FRAMES:
        return frames_overflow()
    cdef Frame* frame = &r.frames[r.top]
    r.top += 1
    frame.kind = kind
    return frame


cdef inline Frame* push_container(Reader* r, int kind, int wire_a, int wire_b,
                                  int64_t count) except NULL:
    cdef Frame* frame = push(r, kind)
    frame.wire_a = wire_a
    frame.wire_b = wire_b
    frame.depth = r.depth
    frame.count = count
    frame.index = 0
    return frame


cdef inline int push_field(Reader* r, FieldC* f) except -1:
    push(r, FRAME_FIELD).ref = <void*>f
    return 0


cdef inline int spend_struct(Reader* r) except -1:
    r.objects += 1
    if r.objects > r.budget:
        fail_budget(r)
    return 0


cdef inline int spend_container(Reader* r, int64_t count, int per_item) except -1:
    # the container, and room now for its items' structs and containers (a
    # claimed count fails before anything is built); count <= bytes left
    if count * per_item > r.budget - r.objects - 1:
        fail_budget(r)
    r.objects += 1
    return 0


# ---- reading ----

cdef inline int need(Reader* r, Py_ssize_t n) except -1:
    if n > r.end - r.pos:
        return fail_end(r, n)
    return 0


cdef inline int read_byte(Reader* r) except -1:
    need(r, 1)
    r.pos += 1
    return r.data[r.pos - 1]


cdef inline uint64_t read_be(Reader* r, int size) except? 0xFFFFFFFFFFFFFFFF:
    need(r, size)
    cdef uint64_t value = 0
    cdef int i
    for i in range(size):
        value = (value << 8) | r.data[r.pos + i]
    r.pos += size
    return value


cdef inline double read_double(Reader* r, bint big_endian) except? -1.0:
    need(r, 8)
    cdef uint64_t bits = 0
    cdef int i
    if big_endian:
        for i in range(8):
            bits = (bits << 8) | r.data[r.pos + i]
    else:
        for i in range(8):
            bits |= (<uint64_t>r.data[r.pos + i]) << (8 * i)
    r.pos += 8
    cdef double value
    memcpy(&value, &bits, 8)
    return value


cdef inline uint64_t read_varint(Reader* r, unsigned int* high) except? 0xFFFFFFFFFFFFFFFF:
    """A varint's low 64 bits; `high` gets bits 64 to 69 (a tenth byte may carry them)."""
    cdef unsigned char byte
    if r.pos < r.end:
        byte = r.data[r.pos]
        if byte < 0x80:
            r.pos += 1
            high[0] = 0
            return byte
    return read_long_varint(r, high)


cdef uint64_t read_long_varint(Reader* r, unsigned int* high) except? 0xFFFFFFFFFFFFFFFF:
    cdef uint64_t result = 0
    cdef int shift = 0
    cdef unsigned char byte
    high[0] = 0
    while True:
        need(r, 1)
        byte = r.data[r.pos]
        r.pos += 1
        if shift < 63:
            result |= (<uint64_t>(byte & 0x7F)) << shift
        else:  # the tenth byte: bit 63, and bits 64 to 69
            result |= (<uint64_t>(byte & 1)) << 63
            high[0] = (byte & 0x7F) >> 1
        if byte < 0x80:
            return result
        shift += 7
        if shift >= 70:
            fail(r, "varint is longer than 10 bytes")


cdef inline int64_t read_zigzag(Reader* r, int code) except? -1:
    cdef unsigned int high
    cdef uint64_t n = read_varint(r, &high)
    if high:
        fail_zigzag(r, big_varint(n, high), code)
    cdef int64_t value = <int64_t>(n >> 1) ^ -(<int64_t>(n & 1))
    if code == T_I32:
        if value < -2147483648 or value > 2147483647:
            fail_zigzag(r, n, code)
    elif code == T_I16:
        if value < -32768 or value > 32767:
            fail_zigzag(r, n, code)
    return value


cdef inline int enter(Reader* r) except -1:
    r.depth += 1
    if r.depth > r.max_depth:
        return fail_depth(r)
    return 0


# The messages are made out of line, so that the checks above stay small enough to inline.

cdef int fail_depth(Reader* r) except -1:
    return fail(r, f"nesting deeper than {r.max_depth} levels")


cdef int fail_length(Reader* r, object n) except -1:
    if n < 0:
        return fail(r, f"negative length {n}")
    if n > 0x7FFFFFFF:
        return fail(r, f"length {n} is out of range")
    return fail(r, f"length {n} exceeds the {r.end - r.pos} bytes left")


cdef inline int check_count(Reader* r, int64_t count, int min_size) except -1:
    # count * min_size > left, without overflowing
    if count < 0 or count > (r.end - r.pos) // min_size:
        return fail_count(r, count, min_size)
    return 0


cdef inline object new_instance(object cls):
    return (<newfunc_t>(<PyTypeObject*>cls).tp_new)(<PyTypeObject*>cls, EMPTY_TUPLE, NULL)


cdef inline int lookup(StructPlan plan, int fid):
    cdef int k
    if plan.index != NULL:
        k = fid - plan.min_id
        if 0 <= k < plan.span:
            return plan.index[k] - 1
        return -1
    found = plan.by_id.get(fid)
    return -1 if found is None else <int>found


cdef inline int set_slot(object obj, Py_ssize_t offset, object value) except -1:
    cdef PyObject** p = slot(obj, offset)
    cdef PyObject* old = p[0]
    Py_INCREF(value)
    p[0] = <PyObject*>value
    Py_XDECREF(old)
    return 0


cdef int finish_struct(Reader* r, object obj, StructPlan plan) except -1:
    cdef Py_ssize_t i
    cdef FieldC* f
    cdef PyObject** p
    cdef int count = 0
    for i in range(plan.n):
        f = &plan.fields[i]
        p = slot(obj, f.offset)
        if p[0] != NULL:
            count += 1
            continue
        if f.required == REQUIRED:
            fail(r, "required field is missing", "." + <str>f.name)
        if f.required == DEFAULT:
            if f.factory != NULL:
                spend_struct(r)
                set_slot(obj, f.offset, (<object>f.factory)())
            else:
                set_slot(obj, f.offset, <object>f.default_value)
        else:
            set_slot(obj, f.offset, None)
    if plan.is_union and count != 1:
        fail(r, f"a union must have exactly one member set, found {count}")
    return 0


cdef inline object enum_member(TypeInfo info, int64_t number):
    cdef object key = PyLong_FromLongLong(number)
    cdef PyObject* member = PyDict_GetItem(info.enum_map, key)
    if member != NULL:
        return <object>member
    return info.cls(key)


cdef inline object as_frozen(object value):
    if PyList_Check(value):
        return tuple(value)
    if PySet_Check(value):
        return PyFrozenSet_New(value)
    if PyDict_Check(value):
        return FrozenDict(value)
    return value


cdef inline object text(Reader* r, Py_ssize_t n):
    # n is checked against what is left
    cdef PyObject* decoded = decode_utf8(<const char*>(r.data + r.pos), n, NULL)
    if decoded == NULL:
        return bad_utf8(r, n)
    value = <object>decoded
    Py_DECREF(value)
    r.pos += n
    return value


cdef object bad_utf8(Reader* r, Py_ssize_t n):
    PyErr_Clear()
    try:
        (<bytes>PyBytes_FromStringAndSize(<const char*>(r.data + r.pos), n)).decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = exc.reason
    fail(r, f"invalid UTF-8 in string: {reason}")


cdef inline object blob(Reader* r, Py_ssize_t n):
    need(r, n)
    value = PyBytes_FromStringAndSize(<const char*>(r.data + r.pos), n)
    r.pos += n
    return value


cdef inline int skip_items(Reader* r, int wire_a, int wire_b, int64_t count) except -1:
    cdef int64_t i
    for i in range(count):
        turn_at(i)
        skip_element(r, wire_a)
        if wire_b:
            skip_element(r, wire_b)
    return 0


cdef inline int skip_element(Reader* r, int wire) except -1:
    if r.compact:
        return skip_c(r, wire, False)
    return skip_b(r, wire)


cdef int skip_mismatched(Reader* r, FieldC* f, int wire) except -1:
    """Skip field `f`, which came as another type than declared (as `_pure` does)."""
    push_field(r, f)
    if f.required == REQUIRED:  # it cannot be absent, so this is the error
        fail(r, f"wire type {wire} does not match the declared type "
                f"({'compact' if r.compact else 'binary'} type {f.cwire if r.compact else f.bwire})")
    if r.compact:
        skip_c(r, wire, True)
    else:
        skip_b(r, wire)
    r.top -= 1
    return 0


# ---- binary decoding ------------------------------------------------------------------


cdef object dec_struct_b(Reader* r, StructPlan plan):
    enter(r)
    spend_struct(r)
    obj = new_instance(plan.cls)
    cdef int wire, fid, k, depth
    cdef FieldC* f
    while True:
        wire = read_byte(r)
        if wire == B_STOP:
            break
        fid = <int16_t>read_be(r, 2)
        k = lookup(plan, fid)
        if k < 0:
            skip_b(r, wire)
            continue
        f = &plan.fields[k]
        if wire != f.bwire:
            skip_mismatched(r, f, wire)
            continue
        push_field(r, f)
        if f.container:
            depth = r.depth
            try:
                value = dec_value_b(r, <TypeInfo>f.info)
            except _Consumed:
                r.depth = depth
                r.top -= 1
                continue
            set_slot(obj, f.offset, value)
        else:
            set_slot(obj, f.offset, dec_value_b(r, <TypeInfo>f.info))
        r.top -= 1
    finish_struct(r, obj, plan)
    r.depth -= 1
    return obj


cdef inline Py_ssize_t length_b(Reader* r) except -1:
    cdef int32_t n = <int32_t>read_be(r, 4)
    if n < 0 or n > r.end - r.pos:
        fail_length(r, n)
    return n


cdef object dec_value_b(Reader* r, TypeInfo info):
    cdef int code = info.code
    cdef int64_t count, i
    cdef bint built
    cdef int wire, key_wire, value_wire, min_key, min_value
    cdef Frame* frame
    if code == T_STRING:
        return text(r, length_b(r))
    if code == T_I32:
        return PyLong_FromLong(<int32_t>read_be(r, 4))
    if code == T_I64:
        return PyLong_FromLongLong(<int64_t>read_be(r, 8))
    if code == T_BINARY:
        return blob(r, length_b(r))
    if code == T_BOOL:
        return read_byte(r) != 0
    if code == T_DOUBLE:
        return PyFloat_FromDouble(read_double(r, True))
    if code == T_I16:
        return PyLong_FromLong(<int16_t>read_be(r, 2))
    if code == T_BYTE:
        return PyLong_FromLong(<int8_t>read_byte(r))
    if code == T_ENUM:
        return enum_member(info, <int32_t>read_be(r, 4))
    if code == T_UUID:
        return UUID(bytes=blob(r, 16))
    if code == T_STRUCT:
        return dec_struct_b(r, plan_for(info.cls))
    enter(r)
    if code == T_MAP:
        key_wire = read_byte(r)
        value_wire = read_byte(r)
        count = <int32_t>read_be(r, 4)
        min_key = min_binary(r, key_wire)
        min_value = min_binary(r, value_wire)
        check_count(r, count, min_key + min_value)
        if count:
            if key_wire != info.a.bwire:
                element_mismatch(r, key_wire, info.a.bwire, key_wire, value_wire, count)
            if value_wire != info.b.bwire:
                element_mismatch(r, value_wire, info.b.bwire, key_wire, value_wire, count)
        spend_container(r, count, info.a.heavy + info.b.heavy)
        result = PyDict_New()
        frame = push_container(r, FRAME_KEY, key_wire, value_wire, count)
        for i in range(count):
            turn_at(i)
            frame.kind = FRAME_KEY
            frame.index = i
            key = dec_value_b(r, info.a)
            frame.kind = FRAME_VALUE
            frame.ref = <void*>key
            PyDict_SetItem(result, key, dec_value_b(r, info.b))
        r.top -= 1
    else:
        wire = read_byte(r)
        count = <int32_t>read_be(r, 4)
        check_count(r, count, min_binary(r, wire))
        if count and wire != info.a.bwire:
            element_mismatch(r, wire, info.a.bwire, wire, 0, count)
        spend_container(r, count, info.a.heavy)
        frame = push_container(r, FRAME_ELEMENT, wire, 0, count)
        if code == T_LIST:
            result = PyList_New(count)
            built = False
            try:
                for i in range(count):
                    turn_at(i)
                    frame.index = i
                    item = dec_value_b(r, info.a)
                    Py_INCREF(item)
                    PyList_SET_ITEM(result, i, item)
                built = True
            finally:  # on an error, the list is freed in turns before it goes on
                if not built:
                    drop_in_turns(result, i)
        else:
            result = set()
            for i in range(count):
                turn_at(i)
                frame.index = i
                PySet_Add(result, dec_value_b(r, info.a))
        r.top -= 1
    r.depth -= 1
    return as_frozen(result) if info.frozen else result


cdef inline int min_binary(Reader* r, int wire) except -1:
    if wire == B_BOOL or wire == B_BYTE:
        return 1
    if wire == B_I16:
        return 2
    if wire == B_I32 or wire == B_STRING:
        return 4
    if wire == B_I64 or wire == B_DOUBLE:
        return 8
    if wire == B_STRUCT:
        return 1
    if wire == B_MAP:
        return 6
    if wire == B_SET or wire == B_LIST:
        return 5
    if wire == B_UUID:
        return 16
    return fail(r, f"unknown wire type {wire}")


cdef int skip_b(Reader* r, int wire) except -1:
    cdef int64_t count, i
    cdef int key_wire, value_wire, element, field_wire, min_key, min_value
    global _values_skipped
    _values_skipped += 1
    if wire == B_BOOL or wire == B_BYTE:
        need(r, 1)
        r.pos += 1
    elif wire == B_I16:
        need(r, 2)
        r.pos += 2
    elif wire == B_I32:
        need(r, 4)
        r.pos += 4
    elif wire == B_I64 or wire == B_DOUBLE:
        need(r, 8)
        r.pos += 8
    elif wire == B_UUID:
        need(r, 16)
        r.pos += 16
    elif wire == B_STRING:
        r.pos += length_b(r)
    elif wire == B_STRUCT:
        enter(r)
        while True:
            field_wire = read_byte(r)
            if field_wire == B_STOP:
                break
            need(r, 2)
            r.pos += 2
            skip_b(r, field_wire)
        r.depth -= 1
    elif wire == B_MAP:
        enter(r)
        key_wire = read_byte(r)
        value_wire = read_byte(r)
        count = <int32_t>read_be(r, 4)
        min_key = min_binary(r, key_wire)
        min_value = min_binary(r, value_wire)
        check_count(r, count, min_key + min_value)
        for i in range(count):
            turn_at(i)
            skip_b(r, key_wire)
            skip_b(r, value_wire)
        r.depth -= 1
    elif wire == B_LIST or wire == B_SET:
        enter(r)
        element = read_byte(r)
        count = <int32_t>read_be(r, 4)
        check_count(r, count, min_binary(r, element))
        for i in range(count):
            turn_at(i)
            skip_b(r, element)
        r.depth -= 1
    else:
        fail(r, f"unknown binary wire type {wire}")
    return 0


# ---- compact decoding -----------------------------------------------------------------


cdef object dec_struct_c(Reader* r, StructPlan plan):
    enter(r)
    spend_struct(r)
    obj = new_instance(plan.cls)
    cdef int header, wire, delta, k, depth, fid
    cdef int last = 0
    cdef FieldC* f
    while True:
        header = read_byte(r)
        if header == 0:
            break
        wire = header & 0x0F
        delta = header >> 4
        if delta:
            fid = last + delta
            if fid > 0x7FFF:  # climbed past i16 by deltas
                fail(r, f"field id {fid} is out of range for i16")
        else:
            fid = <int>read_zigzag(r, T_I16)
        last = fid
        k = lookup(plan, fid)
        if k < 0:
            skip_c(r, wire, True)
            continue
        f = &plan.fields[k]
        if f.code == T_BOOL:
            if wire == C_TRUE:
                set_slot(obj, f.offset, True)
            elif wire == C_FALSE:
                set_slot(obj, f.offset, False)
            else:
                skip_mismatched(r, f, wire)
            continue
        if wire != f.cwire:
            skip_mismatched(r, f, wire)
            continue
        push_field(r, f)
        if f.container:
            depth = r.depth
            try:
                value = dec_value_c(r, <TypeInfo>f.info)
            except _Consumed:
                r.depth = depth
                r.top -= 1
                continue
            set_slot(obj, f.offset, value)
        else:
            set_slot(obj, f.offset, dec_value_c(r, <TypeInfo>f.info))
        r.top -= 1
    finish_struct(r, obj, plan)
    r.depth -= 1
    return obj


cdef inline Py_ssize_t length_c(Reader* r) except -1:
    cdef unsigned int high
    cdef uint64_t n = read_varint(r, &high)
    if high or n > 0x7FFFFFFF or <Py_ssize_t>n > r.end - r.pos:
        fail_length(r, big_varint(n, high))
    return <Py_ssize_t>n


cdef inline int min_compact(Reader* r, int wire) except -1:
    if 1 <= wire <= 6 or 8 <= wire <= 12:
        return 1
    if wire == C_DOUBLE:
        return 8
    if wire == C_UUID:
        return 16
    return fail(r, f"unknown wire type {wire}")


cdef inline int element_matches_c(int wire, TypeInfo info):
    if info.code == T_BOOL:
        return wire == C_TRUE or wire == C_FALSE
    return wire == info.cwire


cdef int64_t checked_count_c(Reader* r, uint64_t count, unsigned int high, int min_size) except -1:
    if high or count > 0x7FFFFFFFFFFFFFFF:
        fail_count(r, big_varint(count, high), min_size)
    check_count(r, <int64_t>count, min_size)
    return <int64_t>count


cdef int64_t list_header_c(Reader* r, int* wire) except -1:
    cdef int header = read_byte(r)
    cdef unsigned int high = 0
    wire[0] = header & 0x0F
    cdef uint64_t count = header >> 4
    if count == 15:
        count = read_varint(r, &high)
    return checked_count_c(r, count, high, min_compact(r, wire[0]))


cdef object dec_value_c(Reader* r, TypeInfo info):
    cdef int code = info.code
    cdef int64_t count, i
    cdef bint built
    cdef uint64_t ucount
    cdef unsigned int high
    cdef int wire, types, min_key, min_value
    cdef int key_wire = 0
    cdef int value_wire = 0
    cdef Frame* frame
    if code == T_STRING:
        return text(r, length_c(r))
    if code == T_I32 or code == T_I16:
        return PyLong_FromLong(<long>read_zigzag(r, code))
    if code == T_I64:
        return PyLong_FromLongLong(read_zigzag(r, code))
    if code == T_BINARY:
        return blob(r, length_c(r))
    if code == T_BOOL:
        return read_byte(r) == C_TRUE
    if code == T_DOUBLE:
        return PyFloat_FromDouble(read_double(r, False))
    if code == T_BYTE:
        return PyLong_FromLong(<int8_t>read_byte(r))
    if code == T_ENUM:
        return enum_member(info, read_zigzag(r, T_I32))
    if code == T_UUID:
        return UUID(bytes=blob(r, 16))
    if code == T_STRUCT:
        return dec_struct_c(r, plan_for(info.cls))
    enter(r)
    if code == T_MAP:
        ucount = read_varint(r, &high)
        count = 0
        if ucount or high:
            types = read_byte(r)
            key_wire = types >> 4
            value_wire = types & 0x0F
            min_key = min_compact(r, key_wire)
            min_value = min_compact(r, value_wire)
            count = checked_count_c(r, ucount, high, min_key + min_value)
            if not element_matches_c(key_wire, info.a):
                element_mismatch(r, key_wire, info.a.cwire, key_wire, value_wire, count)
            if not element_matches_c(value_wire, info.b):
                element_mismatch(r, value_wire, info.b.cwire, key_wire, value_wire, count)
        spend_container(r, count, info.a.heavy + info.b.heavy)
        result = PyDict_New()
        frame = push_container(r, FRAME_KEY, key_wire, value_wire, count)
        for i in range(count):
            turn_at(i)
            frame.kind = FRAME_KEY
            frame.index = i
            key = dec_value_c(r, info.a)
            frame.kind = FRAME_VALUE
            frame.ref = <void*>key
            PyDict_SetItem(result, key, dec_value_c(r, info.b))
        r.top -= 1
    else:
        count = list_header_c(r, &wire)
        if count and not element_matches_c(wire, info.a):
            element_mismatch(r, wire, info.a.cwire, wire, 0, count)
        spend_container(r, count, info.a.heavy)
        frame = push_container(r, FRAME_ELEMENT, wire, 0, count)
        if code == T_LIST:
            result = PyList_New(count)
            built = False
            try:
                for i in range(count):
                    turn_at(i)
                    frame.index = i
                    item = dec_value_c(r, info.a)
                    Py_INCREF(item)
                    PyList_SET_ITEM(result, i, item)
                built = True
            finally:  # on an error, the list is freed in turns before it goes on
                if not built:
                    drop_in_turns(result, i)
        else:
            result = set()
            for i in range(count):
                turn_at(i)
                frame.index = i
                PySet_Add(result, dec_value_c(r, info.a))
        r.top -= 1
    r.depth -= 1
    return as_frozen(result) if info.frozen else result


cdef int skip_c(Reader* r, int wire, bint in_field) except -1:
    cdef int64_t count, i
    cdef uint64_t ucount
    cdef unsigned int high
    cdef int header, types, key_wire, value_wire, element, min_key, min_value
    global _values_skipped
    _values_skipped += 1
    if wire == C_TRUE or wire == C_FALSE:
        if not in_field:
            need(r, 1)
            r.pos += 1
    elif wire == C_BYTE:
        need(r, 1)
        r.pos += 1
    elif wire == C_I16 or wire == C_I32 or wire == C_I64:
        read_varint(r, &high)
    elif wire == C_DOUBLE:
        need(r, 8)
        r.pos += 8
    elif wire == C_UUID:
        need(r, 16)
        r.pos += 16
    elif wire == C_BINARY:
        r.pos += length_c(r)
    elif wire == C_STRUCT:
        enter(r)
        while True:
            header = read_byte(r)
            if header == 0:
                break
            if not header >> 4:
                read_zigzag(r, T_I16)
            skip_c(r, header & 0x0F, True)
        r.depth -= 1
    elif wire == C_MAP:
        enter(r)
        ucount = read_varint(r, &high)
        if ucount or high:
            types = read_byte(r)
            key_wire = types >> 4
            value_wire = types & 0x0F
            min_key = min_compact(r, key_wire)
            min_value = min_compact(r, value_wire)
            count = checked_count_c(r, ucount, high, min_key + min_value)
            for i in range(count):
                turn_at(i)
                skip_c(r, key_wire, False)
                skip_c(r, value_wire, False)
        r.depth -= 1
    elif wire == C_LIST or wire == C_SET:
        enter(r)
        count = list_header_c(r, &element)
        for i in range(count):
            turn_at(i)
            skip_c(r, element, False)
        r.depth -= 1
    else:
        fail(r, f"unknown compact wire type {wire}")
    return 0


# ---- entry points ---------------------------------------------------------------------


cdef dict _ready = {}  # class -> plan, for classes the compiled codec handles whole


cdef inline StructPlan top_plan(object cls):
    cdef PyObject* found = PyDict_GetItem(_ready, cls)
    if found != NULL:
        return <StructPlan>found
    if not isinstance(cls, type) or not hasattr(cls, "__thrift_spec__"):
        return None
    plan = plan_for(cls)
    if not all_compiled(plan):
        return None
    _ready[cls] = plan
    return plan


def handles(cls):
    """Whether this codec decodes and encodes `cls` itself (else every call goes
    to the pure codec: a class that keeps unknown fields, or holds one)."""
    return top_plan(cls) is not None


def _count_fallback_success():
    global fallback_successes
    fallback_successes += 1


cdef object encode_with(object obj, int compact):
    cdef StructPlan plan = top_plan(type(obj))
    if plan is None:
        return _pure.encode_compact(obj) if compact else _pure.encode_binary(obj)
    cdef Buf b
    take_buffer(&b)
    try:
        if compact:
            enc_struct_c(&b, obj, plan, 1)
        else:
            enc_struct_b(&b, obj, plan, 1)
        return finish(&b)
    except Exception:
        pass
    finally:
        give_back(&b)
    # raises the canonical EncodeError
    result = _pure.encode_compact(obj) if compact else _pure.encode_binary(obj)
    _count_fallback_success()
    return result


def encode_binary(obj):
    return encode_with(obj, False)


def encode_compact(obj):
    return encode_with(obj, True)


cdef inline bytes as_bytes(object data):
    if PyBytes_Check(data):
        return <bytes>data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected bytes, bytearray or memoryview, got {type(data).__name__}")


cdef object decode_with(object cls, object data, int max_depth, int compact,
                        object objects_per_byte):
    cdef bytes raw = as_bytes(data)
    cdef StructPlan plan = top_plan(cls)
    if plan is None or max_depth > MAX_COMPILED_DEPTH:
        # classes that keep unknown fields, and deeper nesting: the pure codec's
        return (_pure.decode_compact if compact else _pure.decode_binary)(
            cls, raw, max_depth, objects_per_byte)
    cdef Reader r
    r.data = <const unsigned char*>PyBytes_AS_STRING(raw)
    r.pos = 0
    r.end = PyBytes_GET_SIZE(raw)
    r.depth = 0
    r.max_depth = max_depth
    r.compact = compact
    r.objects = 0
    r.budget = budget_for(r.end, objects_per_byte)
    r.top = 0
    r.cls = <PyObject*>cls
    # Every struct and container made here is tracked by the cyclic garbage
    # collector, which would otherwise run several times over them as they are
    # made (four fifths of the time on a long list of small structs); they
    # cannot form a cycle until the caller has them, so it waits until then.
    cdef int collecting = PyGC_Disable()
    try:
        obj = dec_struct_c(&r, plan) if compact else dec_struct_b(&r, plan)
    finally:
        if collecting:
            PyGC_Enable()
    if r.pos != r.end:
        raise DecodeError(f"{r.end - r.pos} bytes left over after the value", cls.__name__)
    return obj


cdef int64_t budget_for(Py_ssize_t size, object objects_per_byte) except -1:
    """_helpers.object_budget, without a Python call for a usual float."""
    cdef double ratio
    if PyFloat_Check(objects_per_byte):
        ratio = PyFloat_AS_DOUBLE(objects_per_byte)
        # int(size * ratio) in Python: the same double product, truncated
        if 0 <= ratio and size * ratio < 4e18:
            return <int64_t>(size * ratio) + OBJECT_ALLOWANCE_C
    return object_budget(size, objects_per_byte)


def decode_binary(cls, data, int max_depth=64, objects_per_byte=DEFAULT_OBJECTS_PER_BYTE):
    return decode_with(cls, data, max_depth, False, objects_per_byte)


def decode_compact(cls, data, int max_depth=64, objects_per_byte=DEFAULT_OBJECTS_PER_BYTE):
    return decode_with(cls, data, max_depth, True, objects_per_byte)


# Struct.to_bytes and Struct.from_bytes, installed on the base class by
# pilota.runtime.base when this module is in use: no Python frame per call.


@cython.binding(True)
def struct_to_bytes(self, protocol="binary"):
    """Encode with `protocol` ("binary", "compact" or "json"); raises `pilota.EncodeError`."""
    if protocol == "binary":
        return encode_with(self, False)
    if protocol == "compact":
        return encode_with(self, True)
    if protocol == "json":
        return _json_protocol.encode_json(self)
    raise ValueError(f"unknown protocol {protocol!r}: expected 'binary', 'compact' or 'json'")


@cython.binding(True)
def struct_from_bytes(cls, data, protocol="binary", *, int max_depth=64,
                      objects_per_byte=DEFAULT_OBJECTS_PER_BYTE):
    """Decode `data`, which must hold exactly one encoded value; raises `pilota.DecodeError`.

    `max_depth` limits nesting; `objects_per_byte` how many structs and
    containers the message may build: that many per byte of `data`, plus 1024."""
    if protocol == "binary":
        return decode_with(cls, data, max_depth, False, objects_per_byte)
    if protocol == "compact":
        return decode_with(cls, data, max_depth, True, objects_per_byte)
    if protocol == "json":
        return _json_protocol.decode_json(cls, data, max_depth, objects_per_byte)
    raise ValueError(f"unknown protocol {protocol!r}: expected 'binary', 'compact' or 'json'")


# Struct.__eq__ and Struct.__hash__, installed likewise: the same results as
# base's, with no Python frame, reading the slots in place. Decoding a map
# keyed by structs (or a set of them) hashes every key and compares equal ones.

cdef object _base = None  # pilota.runtime.base (which imports this module), once needed


cdef object python_version(str name):
    global _base
    if _base is None:
        from pilota.runtime import base
        _base = base
    return getattr(_base, name)


cdef inline object slot_value(object obj, Py_ssize_t offset):
    cdef PyObject* value = slot(obj, offset)[0]
    return None if value == NULL else <object>value


@cython.binding(True)
def struct_eq(self, other):
    cls = type(self)
    if type(other) is not cls:
        return NotImplemented
    cdef StructPlan plan = plan_for(cls)
    if plan.delegate:
        return python_version("python_eq")(self, other)
    cdef Py_ssize_t i
    cdef Py_ssize_t offset
    for i in range(plan.n):
        offset = plan.fields[i].offset
        mine = slot_value(self, offset)
        theirs = slot_value(other, offset)
        if mine is not theirs and not PyObject_RichCompareBool(mine, theirs, Py_EQ):
            return False
    return True


@cython.binding(True)
def struct_hash(self):
    """base.Struct.__hash__: the hash of the bytes of the field values' hashes."""
    cls = type(self)
    cdef StructPlan plan = plan_for(cls)
    if plan.delegate or not plan.plain:
        return python_version("python_hash")(self)
    cdef Py_hash_t small[16]
    cdef Py_hash_t* hashes = small
    cdef Py_ssize_t i
    if plan.n + 1 > 16:
        hashes = <Py_hash_t*>PyMem_Malloc((plan.n + 1) * sizeof(Py_hash_t))
        if hashes == NULL:
            raise MemoryError()
    try:
        hashes[0] = PyObject_Hash(cls)
        for i in range(plan.n):
            hashes[i + 1] = PyObject_Hash(slot_value(self, plan.fields[i].offset))
        return hash_bytes(hashes, (plan.n + 1) * sizeof(Py_hash_t))
    except TypeError:  # a container where the IDL has none: hashed as base does it
        return python_version("python_hash")(self)
    finally:
        if hashes != small:
            PyMem_Free(hashes)
