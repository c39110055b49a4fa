# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""Compiled protobuf binary codec.

The same behaviour as `_pure` (the reference), byte for byte and error for
error, its own way: each message class's field specs are compiled once into
a `Plan` (fields with their slot offsets, tags, kinds and nested plans, a
dense number -> field index, what a new instance's slots hold); the plans a
class reaches are published together, complete. Encoding reads slots at
their offsets and writes into one growing buffer, patching each nested
message's length in after it is written; values of the exact types fields
usually hold are written the quick way (`fast_field`, `fast_value`), and
anything else takes the general path, which checks as `_pure` does. Decoding
reads straight from the input, allocates instances without `__init__` and
stores into their slots; the unknown fields it gathers are joined once per
decode (as in `_pure`, see `_pure.Pending`).

Errors are raised here, never handed to the pure codec: each message being
read or written has a `Frame` on the C stack saying which field (and which
element or key) is being handled; the path of an error is built from the
frames only when one is raised. Nesting beyond what Python's recursion limit
allows (with a `max_depth` above it) is a RecursionError, as in `_pure`.

Only what is not wire input may take the pure codec's route: a class whose
layout is not the generated one (no plain slots), a message of such a
subclass found where one is written, an object of another class found where
a message is merged into, and sorting map keys for deterministic output
(`_pure._deterministic_order`, shared so that both codecs order alike).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_CheckExact, PyDict_Check, PyDict_Contains, PyDict_GetItem, PyDict_New, PyDict_Next, PyDict_SetItem, PyDict_Size
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches, PyErr_Occurred
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact, PyFloat_FromDouble
from cpython.list cimport PyList_Append, PyList_CheckExact, PyList_Check, PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLong, PyLong_Check, PyLong_FromLong, PyLong_FromLongLong, PyLong_FromUnsignedLong, PyLong_FromUnsignedLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject, PyObject_IsInstance, PyObject_IsTrue, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_INCREF, Py_REFCNT, Py_XDECREF
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_Check, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_Check, PyUnicode_CheckExact, PyUnicode_GET_LENGTH
from libc.limits cimport LLONG_MAX, LLONG_MIN
from libc.math cimport INFINITY, copysign, signbit
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove

from pilota.runtime._buffer cimport (
    TICKS_PER_TURN,
    Buf,
    drop_in_turns,
    give_back,
    give_turn,
    put_byte,
    put_bytes,
    put_le,
    put_varint,
    reserve,
    take_buffer,
)

import math as _math
import types as _types

from pilota.runtime.protobuf import _pure
from pilota.runtime.protobuf.spec import KIND_NAMES as _KIND_NAMES
from pilota.runtime.protobuf.spec import PACKABLE as _PACKABLE
from pilota.runtime.protobuf.spec import WIRE_TYPES as _WIRE_TYPES
from pilota.runtime.types import DecodeError, EncodeError
from pilota.runtime._buffer import turns_given

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    int PyBool_Check(object o)
    PyObject* utf8_decode "PyUnicode_DecodeUTF8"(const char* s, Py_ssize_t size, const char* errors)
    const char* utf8_of "PyUnicode_AsUTF8AndSize"(object s, Py_ssize_t* size)
    # noexcept: past float32's range it fails, and the callers write infinity instead
    int PyFloat_Pack4(double x, char* p, int le) noexcept
    int PyFloat_Pack8(double x, char* p, int le) except? -1
    double PyFloat_Unpack4(const char* p, int le) except? -1.0
    double PyFloat_Unpack8(const char* p, int le) except? -1.0
    int Py_EnterRecursiveCall(const char* where) except 1
    int PyGC_Disable()
    int PyGC_Enable()
    void Py_LeaveRecursiveCall()
    ctypedef PyObject* (*allocfunc)(PyTypeObject*, Py_ssize_t)
    ctypedef struct TypeWithAlloc "PyTypeObject":
        allocfunc tp_alloc

ctypedef const unsigned char* cbytes

cdef extern from *:
    """
    /* The value of an int that fits one internal digit, without a call; 0 when it does not. */
    static inline int pb_small_int(PyObject* v, long long* out) {
    #if PY_VERSION_HEX >= 0x030C0000
        if (_PyLong_IsCompact((PyLongObject*)v)) {
            *out = (long long)_PyLong_CompactValue((PyLongObject*)v);
            return 1;
        }
        return 0;
    #else
        Py_ssize_t size = Py_SIZE(v);
        if (size == 0) { *out = 0; return 1; }
        if (size == 1) { *out = (long long)((PyLongObject*)v)->ob_digit[0]; return 1; }
        if (size == -1) { *out = -(long long)((PyLongObject*)v)->ob_digit[0]; return 1; }
        return 0;
    #endif
    }
    """
    int pb_small_int(object v, long long* out) noexcept

cdef enum:
    # kinds (spec)
    DOUBLE = 1
    FLOAT = 2
    INT64 = 3
    UINT64 = 4
    INT32 = 5
    FIXED64 = 6
    FIXED32 = 7
    BOOL = 8
    STRING = 9
    GROUP = 10
    MESSAGE = 11
    BYTES = 12
    UINT32 = 13
    ENUM = 14
    SFIXED32 = 15
    SFIXED64 = 16
    SINT32 = 17
    SINT64 = 18
    # labels
    IMPLICIT = 0
    OPTIONAL = 1
    REQUIRED = 2
    REPEATED = 3
    PACKED = 4
    MAP = 5
    # flags
    VALIDATE_UTF8 = 1
    CLOSED_ENUM = 2
    # wire types
    VARINT = 0
    I64 = 1
    LEN = 2
    SGROUP = 3
    EGROUP = 4
    I32 = 5
    # what a new instance's slot holds
    FRESH_VALUE = 0
    FRESH_LIST = 1
    FRESH_DICT = 2
    # How a value of exactly Field.fast_type is written the quick way (see fast_value)
    FAST_NONE = 0
    FAST_SIGNED = 1  # INT32, INT64, an open ENUM: a varint of the signed 64-bit number
    FAST_UNSIGNED = 2  # UINT32, UINT64
    FAST_ZIGZAG = 3  # SINT32, SINT64
    FAST_FIXED32 = 4  # FIXED32, SFIXED32
    FAST_FIXED64 = 5  # FIXED64, SFIXED64
    FAST_DOUBLE = 6
    FAST_FLOAT = 7
    FAST_BOOL = 8
    FAST_STRING = 9
    FAST_BYTES = 10
    DENSE_LIMIT = 1024  # field numbers below this are found through an array
    WRONG_WIRE = -2  # read_field: the field came with a wire type it cannot have

DEF MAX_DEPTH = 100

cdef object MemberDescriptorType = _types.MemberDescriptorType
cdef object NoneType = type(None)
cdef object PY_TRUE = True
cdef object PY_FALSE = False
cdef object _F32 = _pure._F32
cdef object _F64 = _pure._F64
cdef object deterministic_order = _pure._deterministic_order
cdef object _pure_merge = _pure._merge
cdef object _pure_flush_unknown = _pure._flush_unknown
cdef object _pure_plan_of = _pure.plan_of
cdef object _pure_write_message = _pure._write_message


# ---- plans ---------------------------------------------------------------------------


cdef class Field:
    """One field as the codec uses it (see `_pure._Field`)."""
    cdef int number
    cdef int kind
    cdef int label
    cdef int wire
    cdef int fixed  # bytes of a fixed-size kind, else 0
    cdef bint packable
    cdef bint utf8
    cdef bint closed
    cdef bint in_oneof
    cdef unsigned char tag[6]
    cdef int tag_len
    cdef unsigned char end_tag[6]  # a group's end-group tag
    cdef int end_tag_len
    cdef Py_ssize_t offset  # of the slot (a oneof member's: its oneof's)
    cdef object name  # the attribute (a oneof member: the name in the oneof's tuple)
    cdef object attr  # the slot's name
    cdef object dotted  # "." + name: its piece of an error path
    cdef object spec
    cdef object cls  # MESSAGE, GROUP, ENUM: the class
    cdef Plan plan  # MESSAGE, GROUP: the class's plan
    cdef dict enum_map  # ENUM: value -> member
    cdef object closed_cls  # a closed ENUM's class, else None
    cdef object default
    cdef object skip  # the type of an unset value that encoding skips unseen (or None)
    cdef Field key  # MAP: the entry's fields
    cdef Field value
    cdef int fast  # FAST_*: how a value of exactly `fast_type` is written the quick way
    cdef PyObject* fast_type  # borrowed: a builtin type, or the enum class (`cls`)
    cdef long long low  # an integer kind's range, as far as a long long reaches
    cdef long long high


cdef class Oneof:
    cdef Py_ssize_t offset
    cdef object attr
    cdef object dotted
    cdef dict members  # member name -> Field
    cdef object listed  # "a, b, c"


cdef class Plan:
    cdef object cls
    cdef object name
    cdef list fields
    cdef Py_ssize_t n
    cdef PyObject** fa  # borrowed from `fields`
    cdef int* index  # number -> index + 1 (0: not a field), for numbers below `span`
    cdef int span
    cdef dict by_number  # number -> Field, for numbers from `span` on
    cdef list oneofs
    cdef list required
    cdef bint message_set
    cdef bint standard  # plain slots at known offsets: the layout `spec` describes
    cdef int all_standard  # 0: not known yet, 1: this and every plan it reaches, -1: not
    cdef int may_require  # -1: not known yet
    cdef Py_ssize_t unknown_offset
    cdef Py_ssize_t extensions_offset
    cdef Py_ssize_t n_fresh
    cdef Py_ssize_t* fresh_offset
    cdef int* fresh_kind
    cdef PyObject** fresh_value  # borrowed from `keep`
    cdef list keep

    def __dealloc__(self):
        PyMem_Free(self.fa)
        PyMem_Free(self.index)
        PyMem_Free(self.fresh_offset)
        PyMem_Free(self.fresh_kind)
        PyMem_Free(self.fresh_value)


cdef dict _plans = {}  # class -> Plan, complete ones only


cdef Plan plan_for(object cls):
    cdef PyObject* found = PyDict_GetItem(_plans, cls)
    if found != NULL:
        return <Plan>found
    # The plans a class reaches are built together and published at once, complete:
    # another thread never finds one half built.
    building = {}
    plan = build_plan(cls, building)
    publish(building)
    return plan


cdef publish(dict building):
    cdef Plan plan
    for plan in building.values():
        all_standard(plan)  # settled before anyone else can see it
    _plans.update(building)


cdef Plan build_plan(object cls, dict building):
    cdef PyObject* found = PyDict_GetItem(_plans, cls)
    if found == NULL:
        found = PyDict_GetItem(building, cls)
    if found != NULL:
        return <Plan>found
    cdef Plan plan = Plan()
    building[cls] = plan  # before its fields: recursive types find it
    compile_plan(plan, cls, building)
    return plan


cdef Py_ssize_t slot_offset(object cls, object name):
    """The offset of slot `name` of `cls`, or -1 when it is not a plain slot."""
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            if type(descriptor) is not MemberDescriptorType:
                return -1
            return (<PyMemberDescrObject*>descriptor).d_member.offset
    return -1


cdef Field make_field(object spec, object owner, dict building):
    cdef Field f = Field()
    f.spec = spec
    f.number = spec.number
    f.name = spec.name
    f.kind = spec.kind
    f.label = spec.label
    f.in_oneof = spec.oneof is not None
    f.attr = spec.oneof if f.in_oneof else spec.name
    f.dotted = "." + spec.name
    f.wire = _WIRE_TYPES[spec.kind] if spec.label != MAP else LEN
    f.packable = (spec.label == REPEATED or spec.label == PACKED) and spec.kind in _PACKABLE
    f.utf8 = bool(spec.flags & VALIDATE_UTF8)
    f.closed = bool(spec.flags & CLOSED_ENUM)
    f.fixed = _FIXED_SIZE(f.kind)
    cdef bint packed = spec.label == PACKED and spec.kind in _PACKABLE
    f.tag_len = encode_varint_to(f.tag, (<uint64_t>f.number << 3) | <uint64_t>(LEN if packed else f.wire))
    f.end_tag_len = encode_varint_to(f.end_tag, (<uint64_t>f.number << 3) | EGROUP)
    f.default = spec.default
    f.closed_cls = None
    f.offset = -1
    if owner is not None:
        f.offset = slot_offset(owner, f.attr)
    if f.label == MAP:
        key, value = spec.type
        f.key = make_field(key, None, building)
        f.value = make_field(value, None, building)
    elif f.kind == MESSAGE or f.kind == GROUP:
        f.cls = spec.type
        f.plan = build_plan(spec.type, building)
    elif f.kind == ENUM:
        f.cls = spec.type
        f.enum_map = spec.type._value2member_map_
        if f.closed:
            f.closed_cls = spec.type
    # the type of a value that is unset: encoding skips it without a closer look
    f.skip = None
    if f.label == REPEATED or f.label == PACKED:
        f.skip = list
    elif f.label == MAP:
        f.skip = dict
    elif f.label == OPTIONAL:
        f.skip = NoneType
    elif f.label == IMPLICIT and f.kind != DOUBLE and f.kind != FLOAT:
        f.skip = type(spec.default)
    set_fast(f)
    return f


cdef set_fast(Field f):
    cdef int kind = f.kind
    f.fast = FAST_NONE
    f.fast_type = NULL
    f.low = LLONG_MIN
    f.high = LLONG_MAX
    if kind == INT32 or kind == SINT32 or kind == SFIXED32 or kind == ENUM:
        f.low = -2147483648
        f.high = 2147483647
    elif kind == UINT32 or kind == FIXED32:
        f.low = 0
        f.high = 4294967295
    elif kind == UINT64 or kind == FIXED64:
        f.low = 0  # values from 2**63 on take the general path
    if kind == INT32 or kind == INT64:
        f.fast = FAST_SIGNED
    elif kind == ENUM:
        if not f.closed:  # a closed enum's value is checked against its members
            f.fast = FAST_SIGNED
    elif kind == UINT32 or kind == UINT64:
        f.fast = FAST_UNSIGNED
    elif kind == SINT32 or kind == SINT64:
        f.fast = FAST_ZIGZAG
    elif kind == FIXED32 or kind == SFIXED32:
        f.fast = FAST_FIXED32
    elif kind == FIXED64 or kind == SFIXED64:
        f.fast = FAST_FIXED64
    elif kind == DOUBLE:
        f.fast = FAST_DOUBLE
    elif kind == FLOAT:
        f.fast = FAST_FLOAT
    elif kind == BOOL:
        f.fast = FAST_BOOL
    elif kind == STRING:
        f.fast = FAST_STRING
    elif kind == BYTES:
        f.fast = FAST_BYTES
    if f.fast == FAST_NONE:
        return
    if kind == ENUM:
        f.fast_type = <PyObject*>f.cls
    elif f.fast <= FAST_FIXED64:
        f.fast_type = <PyObject*>int
    elif f.fast <= FAST_FLOAT:
        f.fast_type = <PyObject*>float
    elif f.fast == FAST_BOOL:
        f.fast_type = <PyObject*>bool
    elif f.fast == FAST_STRING:
        f.fast_type = <PyObject*>str
    else:
        f.fast_type = <PyObject*>bytes


cdef inline int _FIXED_SIZE(int kind):
    if kind == FIXED32 or kind == SFIXED32 or kind == FLOAT:
        return 4
    if kind == FIXED64 or kind == SFIXED64 or kind == DOUBLE:
        return 8
    return 0


cdef compile_plan(Plan plan, object cls, dict building):
    plan.cls = cls
    plan.name = cls.__name__
    specs = cls.__pb_fields__
    oneof_names = cls.__pb_oneofs__
    plan.message_set = bool(cls.__pb_message_set__)
    plan.fields = [make_field(spec, cls, building) for spec in specs]
    plan.n = len(plan.fields)
    plan.may_require = -1
    plan.standard = True
    plan.fa = <PyObject**>PyMem_Malloc(max(plan.n, 1) * sizeof(PyObject*))
    if plan.fa == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    cdef Field f
    cdef int top = 1
    for i in range(plan.n):
        f = plan.fields[i]
        plan.fa[i] = <PyObject*>f
        if f.offset < 0:
            plan.standard = False
        if f.number < DENSE_LIMIT and f.number + 1 > top:
            top = f.number + 1
    plan.span = top
    plan.index = <int*>PyMem_Malloc(top * sizeof(int))
    if plan.index == NULL:
        raise MemoryError()
    for i in range(top):
        plan.index[i] = 0
    plan.by_number = {}
    for i in range(plan.n):
        f = plan.fields[i]
        if f.number < top:
            if plan.index[f.number] == 0:
                plan.index[f.number] = i + 1
        elif f.number not in plan.by_number:
            plan.by_number[f.number] = f
    plan.required = [f for f in plan.fields if f.label == REQUIRED]
    cdef Oneof oneof
    plan.oneofs = []
    for name in oneof_names:
        oneof = Oneof()
        oneof.attr = name
        oneof.dotted = "." + name
        oneof.offset = slot_offset(cls, name)
        if oneof.offset < 0:
            plan.standard = False
        oneof.members = {f.name: f for f in plan.fields if f.in_oneof and f.attr == name}
        oneof.listed = ", ".join(oneof.members)
        plan.oneofs.append(oneof)
    plan.unknown_offset = slot_offset(cls, "_unknown")
    plan.extensions_offset = slot_offset(cls, "_extensions")
    if plan.unknown_offset < 0 or plan.extensions_offset < 0:
        plan.standard = False
    # what a new instance's slots hold (as `_pure._Plan.fresh`)
    fresh = []
    for f in plan.fields:
        if f.in_oneof:
            continue
        if f.label == REPEATED or f.label == PACKED:
            fresh.append((f.offset, FRESH_LIST, None))
        elif f.label == MAP:
            fresh.append((f.offset, FRESH_DICT, None))
        elif f.label == IMPLICIT:
            fresh.append((f.offset, FRESH_VALUE, f.default))
        else:
            fresh.append((f.offset, FRESH_VALUE, None))
    for oneof in plan.oneofs:
        fresh.append((oneof.offset, FRESH_VALUE, None))
    plan.keep = [value for _, _, value in fresh]
    plan.n_fresh = len(fresh)
    plan.fresh_offset = <Py_ssize_t*>PyMem_Malloc(max(plan.n_fresh, 1) * sizeof(Py_ssize_t))
    plan.fresh_kind = <int*>PyMem_Malloc(max(plan.n_fresh, 1) * sizeof(int))
    plan.fresh_value = <PyObject**>PyMem_Malloc(max(plan.n_fresh, 1) * sizeof(PyObject*))
    if plan.fresh_offset == NULL or plan.fresh_kind == NULL or plan.fresh_value == NULL:
        raise MemoryError()
    for i in range(plan.n_fresh):
        plan.fresh_offset[i] = fresh[i][0]
        plan.fresh_kind[i] = fresh[i][1]
        plan.fresh_value[i] = <PyObject*>plan.keep[i]


cdef inline Plan message_plan(Field f):
    """The plan of the messages field `f` holds (a map: its values), or None."""
    if f.label == MAP:
        return f.value.plan
    return f.plan


cdef bint all_standard(Plan plan):
    """Whether `plan` and every plan it reaches have the generated layout (memoized)."""
    if plan.all_standard != 0:
        return plan.all_standard == 1
    plan.all_standard = 1  # provisional, so that recursive types end
    cdef bint ok = plan.standard
    cdef Plan inner
    if ok:
        for f in plan.fields:
            inner = message_plan(f)
            if inner is not None and not all_standard(inner):
                ok = False
                break
    plan.all_standard = 1 if ok else -1
    return ok


cdef bint may_require(Plan plan):
    """Whether a message of this plan can hold a required field at any depth
    (as `_pure._class_may_require`)."""
    if plan.may_require >= 0:
        return plan.may_require == 1
    seen = {plan.cls}
    todo = [plan]
    cdef bint result = False
    cdef Plan current, inner
    while todo:
        current = todo.pop()
        if current.required:
            result = True
            break
        for f in current.fields:
            inner = message_plan(f)
            if inner is not None and inner.cls not in seen:
                seen.add(inner.cls)
                todo.append(inner)
    plan.may_require = 1 if result else 0
    return result


cdef inline PyObject** slot(object obj, Py_ssize_t offset):
    return <PyObject**>((<char*><PyObject*>obj) + offset)


cdef inline int set_slot(object obj, Py_ssize_t offset, object value) except -1:
    cdef PyObject** p = slot(obj, offset)
    cdef PyObject* old = p[0]
    Py_INCREF(value)
    p[0] = <PyObject*>value
    Py_XDECREF(old)
    return 0


cdef inline object get_slot(object obj, Py_ssize_t offset, object name):
    """A slot's value; an unset one raises AttributeError, as reading it would."""
    cdef PyObject* v = slot(obj, offset)[0]
    if v == NULL:
        return getattr(obj, name)
    return <object>v


cdef object new_message(Plan plan):
    """An instance with every field unset, made without `__init__` (as `_pure.new_message`)."""
    cdef PyTypeObject* tp = <PyTypeObject*>plan.cls
    cdef PyObject* made = (<TypeWithAlloc*>tp).tp_alloc(tp, 0)
    if made == NULL:
        raise MemoryError()
    obj = <object>made
    Py_XDECREF(made)  # tp_alloc returned a new reference; `obj` holds its own
    cdef Py_ssize_t i
    cdef PyObject** p
    cdef int kind
    for i in range(plan.n_fresh):
        p = slot(obj, plan.fresh_offset[i])
        kind = plan.fresh_kind[i]
        if kind == FRESH_LIST:
            value = PyList_New(0)
        elif kind == FRESH_DICT:
            value = PyDict_New()
        else:
            value = <object>plan.fresh_value[i]
        Py_INCREF(value)
        p[0] = <PyObject*>value
    return obj


cdef int encode_varint_to(unsigned char* out, uint64_t n) noexcept:
    cdef int i = 0
    while n > 0x7F:
        out[i] = <unsigned char>((n & 0x7F) | 0x80)
        n >>= 7
        i += 1
    out[i] = <unsigned char>n
    return i + 1


# ---- error paths ----------------------------------------------------------------------


ctypedef struct Frame:
    # One message being read or written, for the path of an error raised inside it.
    Frame* parent
    PyObject* name  # the outermost frame: the class name; the others: NULL
    PyObject* piece  # the field being handled: its ".name", or an Extension; NULL: none
    int piece_is_extension
    int extra  # 0: nothing more, 1: "[index]", 2: "[key!r]"
    Py_ssize_t index
    PyObject* key
    Frame* root  # the outermost frame
    PyObject* pending  # the outermost frame, decoding: a dict as `_pure.Pending` (owned), or NULL


cdef inline void enter_frame(Frame* fr, Frame* parent) noexcept:
    fr.parent = parent
    fr.name = NULL
    fr.piece = NULL
    fr.piece_is_extension = 0
    fr.extra = 0
    fr.root = parent.root if parent != NULL else fr
    fr.pending = NULL


cdef str frame_path(Frame* fr):
    pieces = []
    while fr != NULL:
        if fr.name != NULL:
            pieces.append(<object>fr.name)
        elif fr.piece != NULL:
            if fr.extra == 1:
                pieces.append(f"[{fr.index}]")
            elif fr.extra == 2:
                pieces.append(f"[{<object>fr.key!r}]")
            if fr.piece_is_extension:
                pieces.append(f".({(<object>fr.piece).full_name})")
            else:
                pieces.append(<object>fr.piece)
        fr = fr.parent
    pieces.reverse()
    return "".join(pieces)


cdef int raise_decode(Frame* fr, str message) except -1:
    raise DecodeError(message, frame_path(fr))


cdef int raise_encode(Frame* fr, str message) except -1:
    raise EncodeError(message, frame_path(fr))


cdef inline str type_name(object value):
    return type(value).__name__


# ---- decoding ------------------------------------------------------------------------

# Fields and packed values read, for the turns decoding gives other threads (_buffer.pxd).
cdef uint32_t _ticks = 0


cdef inline int tick() except -1:
    global _ticks
    _ticks += 1
    if _ticks % TICKS_PER_TURN == 0:
        give_turn()
    return 0



cdef inline Py_ssize_t read_varint(cbytes data, Py_ssize_t pos, Py_ssize_t end, uint64_t* out,
                                   Frame* fr) except -1:
    if pos < end and data[pos] < 0x80:  # one byte (the common case), without a call
        out[0] = data[pos]
        return pos + 1
    return read_long_varint(data, pos, end, out, fr)


cdef Py_ssize_t read_long_varint(cbytes data, Py_ssize_t pos, Py_ssize_t end, uint64_t* out,
                                 Frame* fr) except -1:
    cdef uint64_t byte, result
    cdef int shift
    if pos >= end:
        raise_decode(fr, "the input ends inside a varint")
    byte = data[pos]
    if byte < 0x80:
        out[0] = byte
        return pos + 1
    result = byte & 0x7F
    shift = 7
    pos += 1
    while True:
        if pos >= end:
            raise_decode(fr, "the input ends inside a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            out[0] = result
            return pos
        shift += 7
        if shift >= 70:
            raise_decode(fr, "a varint is longer than 10 bytes")


cdef inline Py_ssize_t read_length(cbytes data, Py_ssize_t pos, Py_ssize_t end, Py_ssize_t* start,
                                   Frame* fr) except -1:
    """A length prefix checked against what remains: returns the chunk's end, sets its start."""
    cdef uint64_t n
    pos = read_varint(data, pos, end, &n, fr)
    if n > <uint64_t>(end - pos):
        raise_decode(fr, f"a length of {n} runs past the end of the input")
    start[0] = pos
    return pos + <Py_ssize_t>n


cdef inline Py_ssize_t read_tag(cbytes data, Py_ssize_t pos, Py_ssize_t end, int* number,
                                int* wire, Frame* fr) except -1:
    cdef uint64_t tag
    pos = read_varint(data, pos, end, &tag, fr)
    if tag > 0xFFFFFFFF:
        raise_decode(fr, f"invalid tag {tag}")
    number[0] = <int>(tag >> 3)
    wire[0] = <int>(tag & 7)
    if number[0] == 0:
        raise_decode(fr, "field number 0 is not allowed")
    if wire[0] > 5:
        raise_decode(fr, f"invalid wire type {wire[0]} (field {number[0]})")
    return pos


cdef Py_ssize_t skip_field(cbytes data, Py_ssize_t pos, Py_ssize_t end, int number, int wire,
                           int depth, Frame* fr) except -1:
    """The position after a field's value (whose tag ended at `pos`)."""
    cdef uint64_t ignored
    cdef Py_ssize_t start
    cdef int inner, inner_wire
    if wire == VARINT:
        return read_varint(data, pos, end, &ignored, fr)
    if wire == I64:
        if end - pos < 8:
            raise_decode(fr, "the input ends inside a fixed64")
        return pos + 8
    if wire == I32:
        if end - pos < 4:
            raise_decode(fr, "the input ends inside a fixed32")
        return pos + 4
    if wire == LEN:
        return read_length(data, pos, end, &start, fr)
    if wire == SGROUP:
        if depth <= 1:
            raise_decode(fr, "nesting is too deep")
        Py_EnterRecursiveCall(" while skipping a group")
        try:
            while True:
                tick()
                if pos >= end:
                    raise_decode(fr, f"group {number} has no end-group tag")
                pos = read_tag(data, pos, end, &inner, &inner_wire, fr)
                if inner_wire == EGROUP:
                    if inner != number:
                        raise_decode(fr, f"an end-group tag for field {inner} that is not open")
                    return pos
                pos = skip_field(data, pos, end, inner, inner_wire, depth - 1, fr)
        finally:
            Py_LeaveRecursiveCall()
    raise_decode(fr, f"invalid wire type {wire} (field {number})")


cdef inline object from_varint(int kind, uint64_t n):
    cdef uint32_t u
    if kind == INT32 or kind == ENUM:
        return PyLong_FromLong(<int32_t><uint32_t>n)
    if kind == INT64:
        return PyLong_FromLongLong(<int64_t>n)
    if kind == BOOL:
        return PY_TRUE if n != 0 else PY_FALSE
    if kind == UINT64:
        return PyLong_FromUnsignedLongLong(n)
    if kind == UINT32:
        return PyLong_FromUnsignedLong(<uint32_t>n)
    if kind == SINT32:
        u = <uint32_t>n
        return PyLong_FromLong(<int32_t>((u >> 1) ^ (<uint32_t>0 - (u & 1))))
    if kind == SINT64:
        return PyLong_FromLongLong(<int64_t>((n >> 1) ^ (<uint64_t>0 - (n & 1))))
    raise AssertionError(kind)


cdef int pending_error() except -1:
    """Returns the error a C call left set, for the caller to raise."""
    return -1


cdef object read_text(cbytes data, Py_ssize_t start, Py_ssize_t end, bint validate, Frame* fr):
    """Strict UTF-8 when `validate`, else bytes that are not UTF-8 kept as surrogates."""
    cdef const char* errors = NULL
    if not validate:
        errors = "surrogateescape"
    cdef PyObject* text = utf8_decode(<const char*>(data + start), end - start, errors)
    if text == NULL:
        if validate and PyErr_ExceptionMatches(UnicodeDecodeError):
            PyErr_Clear()
            raise_decode(fr, "a string field holds bytes that are not UTF-8")
        pending_error()
    result = <object>text
    Py_XDECREF(text)  # `result` holds its own reference
    return result


cdef object read_scalar(Field f, int wire, cbytes data, Py_ssize_t* ppos, Py_ssize_t end,
                        Frame* fr):
    """One non-message value of kind f.kind, whose wire type is `wire` (as `_pure._read_scalar`)."""
    cdef Py_ssize_t pos = ppos[0]
    cdef Py_ssize_t start, chunk_end
    cdef uint64_t n
    cdef int kind = f.kind
    cdef uint32_t u32
    cdef uint64_t u64
    if wire == VARINT:
        ppos[0] = read_varint(data, pos, end, &n, fr)
        return from_varint(kind, n)
    if wire == LEN:
        chunk_end = read_length(data, pos, end, &start, fr)
        if kind == STRING:
            value = read_text(data, start, chunk_end, f.utf8, fr)
        else:
            value = PyBytes_FromStringAndSize(<const char*>(data + start), chunk_end - start)
        ppos[0] = chunk_end
        return value
    cdef int size = 8 if wire == I64 else 4
    if end - pos < size:
        raise_decode(fr, f"the input ends inside a {_KIND_NAMES[kind]}")
    ppos[0] = pos + size
    if kind == DOUBLE:
        return PyFloat_FromDouble(PyFloat_Unpack8(<const char*>(data + pos), 1))
    if kind == FLOAT:
        return PyFloat_FromDouble(PyFloat_Unpack4(<const char*>(data + pos), 1))
    if size == 4:
        memcpy(&u32, data + pos, 4)
        if kind == FIXED32:
            return PyLong_FromUnsignedLong(u32)
        return PyLong_FromLong(<int32_t>u32)
    memcpy(&u64, data + pos, 8)
    if kind == FIXED64:
        return PyLong_FromUnsignedLongLong(u64)
    return PyLong_FromLongLong(<int64_t>u64)


cdef inline object enum_member(Field f, object number):
    """The enum member for `number`; None when a closed enum does not know it."""
    cdef PyObject* member = PyDict_GetItem(f.enum_map, number)
    if member != NULL:
        return <object>member
    if f.closed:
        return None
    return f.cls(number)


cdef bytes closed_enum_record(Field f, object value):
    """A closed enum's unknown number, as the unknown field it becomes."""
    cdef unsigned char buf[16]
    cdef int n = encode_varint_to(buf, (<uint64_t>f.number << 3) | VARINT)
    n += encode_varint_to(buf + n, <uint64_t><int64_t>(<long long>value))
    return PyBytes_FromStringAndSize(<const char*>buf, n)


cdef int add_unknown(Frame* fr, object obj, bytes record) except -1:
    """Appends to the unknown fields of `obj`, through the decode's pending table (see
    `_pure.Pending`): joined once at the end, so that a message merged again and again
    costs linear time."""
    cdef Frame* root = fr.root
    if root.pending == NULL:
        table = {}
        Py_INCREF(table)
        root.pending = <PyObject*>table
    key = id(obj)
    cdef PyObject* entry = PyDict_GetItem(<dict>root.pending, key)
    if entry == NULL:
        pieces = [getattr(obj, "_unknown", b""), record]
        (<dict>root.pending)[key] = (obj, pieces)
    else:
        (<list>PyTuple_GET_ITEM(<tuple>entry, 1)).append(record)
    return 0


cdef int flush_unknown(Frame* root) except -1:
    if root.pending == NULL:
        return 0
    table = <dict>root.pending
    Py_XDECREF(root.pending)  # `table` holds its own reference
    root.pending = NULL
    for obj, pieces in table.values():
        obj._unknown = b"".join(pieces)
    return 0


cdef inline int append_to(object items, object value) except -1:
    if PyList_CheckExact(items):
        return PyList_Append(items, value)
    items.append(value)
    return 0


cdef Py_ssize_t dec_merge(object obj, Plan plan, cbytes data, Py_ssize_t pos, Py_ssize_t end,
                          int depth, int group, Frame* parent) except -1:
    """Merges the fields in data[pos:end] into `obj` (as `_pure._merge`); a group (number
    `group`) ends at its end-group tag. Returns the position after the last byte read."""
    cdef Frame fr
    enter_frame(&fr, parent)
    if depth <= 0:
        raise_decode(&fr, "nesting is too deep")
    cdef Py_ssize_t start, new_pos
    cdef int number, wire, k
    cdef unsigned char b
    cdef Field f
    cdef PyObject* found
    unknown = None  # the unknown fields, added when the message (or group) ends
    Py_EnterRecursiveCall(" while decoding a protobuf message")
    try:
        while pos < end:
            tick()
            start = pos
            b = data[pos]
            if b < 0x80 and b >= 8:  # a one-byte tag (the common case)
                number = b >> 3
                wire = b & 7
                pos += 1
                if wire > 5:
                    raise_decode(&fr, f"invalid wire type {wire} (field {number})")
            else:
                pos = read_tag(data, pos, end, &number, &wire, &fr)
            if wire == EGROUP:
                if number == group:
                    if unknown is not None:
                        add_unknown(&fr, obj, b"".join(unknown))
                    return pos
                raise_decode(&fr, f"an end-group tag for field {number} that is not open")
            k = plan.index[number] - 1 if number < plan.span else -1
            if k >= 0:
                f = <Field>plan.fa[k]
            elif number >= plan.span and plan.by_number:
                found = PyDict_GetItem(plan.by_number, number)
                f = <Field>found if found != NULL else None
            else:
                f = None
            if f is not None:
                fr.piece = <PyObject*>f.dotted
                new_pos = read_field(obj, f, wire, data, pos, end, depth, &fr)
                fr.piece = NULL
                if new_pos >= 0:
                    pos = new_pos
                    continue
            pos = skip_field(data, pos, end, number, wire, depth, &fr)
            if unknown is None:
                unknown = []
            unknown.append(PyBytes_FromStringAndSize(<const char*>(data + start), pos - start))
        if group:
            raise_decode(&fr, f"group {group} has no end-group tag")
        if unknown is not None:
            add_unknown(&fr, obj, b"".join(unknown))
        return pos
    finally:
        Py_LeaveRecursiveCall()


cdef Py_ssize_t read_field(object obj, Field f, int wire, cbytes data, Py_ssize_t pos,
                           Py_ssize_t end, int depth, Frame* fr) except -1:
    """Reads one occurrence of field `f` into `obj`; returns the position after it, or
    WRONG_WIRE when it came with a wire type the field cannot have (as `_pure._read_field`)."""
    cdef int label = f.label
    cdef int kind = f.kind
    cdef uint64_t n
    if label == MAP:
        if wire != LEN:
            return WRONG_WIRE
        return read_map_entry(obj, f, data, pos, end, depth, fr)
    if kind == MESSAGE or kind == GROUP:
        if wire != f.wire:
            return WRONG_WIRE
        return read_message_field(obj, f, data, pos, end, depth, fr)
    if wire != f.wire:
        if wire == LEN and f.packable:
            return read_packed(obj, f, data, pos, end, fr)
        return WRONG_WIRE
    if wire == VARINT:
        pos = read_varint(data, pos, end, &n, fr)
        value = from_varint(kind, n)
    else:
        value = read_scalar(f, wire, data, &pos, end, fr)
    if kind == ENUM:
        member = enum_member(f, value)
        if member is None:  # a closed enum's unknown number: kept as an unknown field
            add_unknown(fr, obj, closed_enum_record(f, value))
            return pos
        value = member
    if label == REPEATED or label == PACKED:
        append_to(get_slot(obj, f.offset, f.attr), value)
    elif f.in_oneof:
        set_slot(obj, f.offset, (f.name, value))
    else:
        set_slot(obj, f.offset, value)
    return pos


cdef Py_ssize_t count_varints(cbytes data, Py_ssize_t pos, Py_ssize_t end) noexcept:
    """How many varints data[pos:end] holds, or -1 when one is cut off or too long."""
    cdef Py_ssize_t count = 0
    cdef int length = 0
    while pos < end:
        length += 1
        if data[pos] < 0x80:
            count += 1
            length = 0
        elif length >= 10:
            return -1
        pos += 1
    return count if length == 0 else -1


cdef Py_ssize_t read_packed(object obj, Field f, cbytes data, Py_ssize_t pos, Py_ssize_t end,
                            Frame* fr) except -1:
    cdef Py_ssize_t start, chunk_end, count, i, p
    chunk_end = read_length(data, pos, end, &start, fr)
    items = get_slot(obj, f.offset, f.attr)
    cdef int kind = f.kind
    cdef int size = f.fixed
    cdef uint64_t n
    if size:
        if (chunk_end - start) % size:
            raise_decode(fr, f"packed {_KIND_NAMES[kind]}s end in the middle of one")
        count = (chunk_end - start) // size
        values = PyList_New(count)
        p = start
        for i in range(count):
            tick()
            value = read_scalar(f, I64 if size == 8 else I32, data, &p, chunk_end, fr)
            Py_INCREF(value)
            PyList_SET_ITEM(values, i, value)
        items += values
        return chunk_end
    pos = start
    count = count_varints(data, start, chunk_end) if kind != ENUM else -1
    if count >= 0 and PyList_CheckExact(items):
        # every varint is whole: read them into a list of the right size at once
        values = PyList_New(count)
        for i in range(count):
            tick()
            pos = read_varint(data, pos, chunk_end, &n, fr)
            value = from_varint(kind, n)
            Py_INCREF(value)
            PyList_SET_ITEM(values, i, value)
        if PyList_GET_SIZE(items) == 0 and Py_REFCNT(items) == 2:
            # an empty list only the slot (and `items`) refers to: nobody can tell it
            # from the new one, which takes its place rather than being copied into it
            set_slot(obj, f.offset, values)
        else:
            items += values
        return chunk_end
    unknown = None
    while pos < chunk_end:
        tick()
        pos = read_varint(data, pos, chunk_end, &n, fr)
        value = from_varint(kind, n)
        if kind == ENUM:
            member = enum_member(f, value)
            if member is None:
                if unknown is None:
                    unknown = []
                unknown.append(closed_enum_record(f, value))
                continue
            value = member
        append_to(items, value)
    if unknown is not None:
        add_unknown(fr, obj, b"".join(unknown))
    return chunk_end


cdef Py_ssize_t read_message_field(object obj, Field f, cbytes data, Py_ssize_t pos,
                                   Py_ssize_t end, int depth, Frame* fr) except -1:
    cdef Plan plan = f.plan
    cdef int label = f.label
    cdef PyObject* current
    if label == REPEATED or label == PACKED:
        items = get_slot(obj, f.offset, f.attr)
        target = new_message(plan)
        fr.extra = 1
        fr.index = len(items)
        pos = read_message(target, plan, f, data, pos, end, depth, fr)
        fr.extra = 0
        append_to(items, target)
        return pos
    if f.in_oneof:
        case = get_slot(obj, f.offset, f.attr)
        if case is not None and case[0] == f.name:
            target = case[1]
        else:
            target = new_message(plan)
            set_slot(obj, f.offset, (f.name, target))
    else:
        current = slot(obj, f.offset)[0]
        if current == NULL:
            target = getattr(obj, f.attr)  # raises AttributeError, as reading it would
        else:
            target = <object>current
        if target is None:
            target = new_message(plan)
            set_slot(obj, f.offset, target)
    if type(target) is not plan.cls and not isinstance(target, plan.cls):
        return merge_foreign(target, f, data, pos, end, depth, fr)
    return read_message(target, plan, f, data, pos, end, depth, fr)


cdef inline Py_ssize_t read_message(object target, Plan plan, Field f, cbytes data, Py_ssize_t pos,
                                    Py_ssize_t end, int depth, Frame* fr) except -1:
    cdef Py_ssize_t start, chunk_end
    if f.kind == GROUP:
        return dec_merge(target, plan, data, pos, end, depth - 1, f.number, fr)
    chunk_end = read_length(data, pos, end, &start, fr)
    dec_merge(target, plan, data, start, chunk_end, depth - 1, 0, fr)
    return chunk_end


cdef Py_ssize_t merge_foreign(object target, Field f, cbytes data, Py_ssize_t pos,
                              Py_ssize_t end, int depth, Frame* fr) except -1:
    """Merges into an object that is not of the field's class (one a program put there):
    the pure codec does, by attribute name, what it does with such an object."""
    cdef Py_ssize_t start, chunk_end
    raw = PyBytes_FromStringAndSize(<const char*>data, end)
    plan = _pure_plan_of(f.cls)
    pending = {}
    try:
        if f.kind == GROUP:
            return _pure_merge(target, plan, raw, pos, end, depth - 1, f.number, pending)
        chunk_end = read_length(data, pos, end, &start, fr)
        _pure_merge(target, plan, raw, start, chunk_end, depth - 1, 0, pending)
        return chunk_end
    except DecodeError as e:
        raise DecodeError(e.message, frame_path(fr) + e.path) from None
    finally:
        _pure_flush_unknown(pending)


cdef Py_ssize_t read_map_entry(object obj, Field f, cbytes data, Py_ssize_t pos, Py_ssize_t end,
                               int depth, Frame* fr) except -1:
    cdef Py_ssize_t record_start = pos
    cdef Py_ssize_t start, chunk_end, sub_start, sub_end
    cdef int number, wire
    cdef unsigned char b
    cdef Field key_field = f.key
    cdef Field value_field = f.value
    chunk_end = read_length(data, pos, end, &start, fr)
    pos = start
    key = key_field.default
    value = None
    cdef bint have_value = False
    while pos < chunk_end:
        tick()
        b = data[pos]
        if b < 0x80 and b >= 8:  # a one-byte tag (the common case)
            number = b >> 3
            wire = b & 7
            pos += 1
            if wire > 5:
                raise_decode(fr, f"invalid wire type {wire} (field {number})")
        else:
            pos = read_tag(data, pos, chunk_end, &number, &wire, fr)
        if wire == EGROUP:
            raise_decode(fr, f"an end-group tag for field {number} that is not open")
        if number == 1 and wire == key_field.wire:
            key = read_scalar(key_field, wire, data, &pos, chunk_end, fr)
        elif number == 2 and wire == value_field.wire:
            if value_field.kind == MESSAGE:
                if not have_value:
                    value = new_message(value_field.plan)
                    have_value = True
                sub_end = read_length(data, pos, chunk_end, &sub_start, fr)
                fr.extra = 2
                fr.key = <PyObject*>key
                dec_merge(value, value_field.plan, data, sub_start, sub_end, depth - 1, 0, fr)
                fr.extra = 0
                pos = sub_end
            else:
                value = read_scalar(value_field, wire, data, &pos, chunk_end, fr)
                have_value = True
        else:
            pos = skip_field(data, pos, chunk_end, number, wire, depth, fr)
    if not have_value:
        if value_field.kind == MESSAGE:
            value = new_message(value_field.plan)
        else:
            value = value_field.default
    elif value_field.kind == ENUM:
        member = enum_member(value_field, value)
        if member is None:  # a closed enum's unknown number: the whole entry is unknown
            add_unknown(fr, obj, PyBytes_FromStringAndSize(<const char*>f.tag, f.tag_len)
                             + PyBytes_FromStringAndSize(<const char*>(data + record_start),
                                                         chunk_end - record_start))
            return chunk_end
        value = member
    entries = get_slot(obj, f.offset, f.attr)
    if PyDict_CheckExact(entries):
        PyDict_SetItem(entries, key, value)
    else:
        entries[key] = value
    return chunk_end


# ---- required fields -----------------------------------------------------------------


cdef object missing_required(object obj, Plan plan, int depth):
    """The path (below `obj`) of a required field that is not set, or None
    (as `_pure.missing_required`)."""
    if depth <= 0:
        return None
    cdef Field f
    cdef Plan inner
    cdef Py_ssize_t i
    for f in plan.required:
        if get_slot(obj, f.offset, f.attr) is None:
            return f.dotted
    for f in plan.fields:
        inner = message_plan(f)
        if inner is None or not may_require(inner):
            continue
        if f.in_oneof:
            case = get_slot(obj, f.offset, f.attr)
            if case is not None and case[0] == f.name:
                found = missing_in(case[1], depth)
                if found is not None:
                    return f.dotted + found
            continue
        value = get_slot(obj, f.offset, f.attr)
        if f.label == MAP:
            for k, v in value.items():
                found = missing_in(v, depth)
                if found is not None:
                    return f"{f.dotted}[{k!r}]" + found
        elif f.label == REPEATED or f.label == PACKED:
            i = 0
            for v in value:
                found = missing_in(v, depth)
                if found is not None:
                    return f"{f.dotted}[{i}]" + found
                i += 1
        elif value is not None:
            found = missing_in(value, depth)
            if found is not None:
                return f.dotted + found
    return None


cdef inline object missing_in(object value, int depth):
    return missing_required(value, plan_for(type(value)), depth - 1)


# ---- encoding: the output buffer -----------------------------------------------------


cdef inline int put_tag(Buf* b, Field f) except -1:
    reserve(b, 6)
    cdef int i
    for i in range(f.tag_len):
        b.data[b.len + i] = <char>f.tag[i]
    b.len += f.tag_len
    return 0


cdef inline Py_ssize_t open_length(Buf* b) except -1:
    """Leaves one byte for a length prefix; returns where what it measures starts."""
    reserve(b, 1)
    b.len += 1
    return b.len


cdef inline int close_length(Buf* b, Py_ssize_t start) except -1:
    """Writes the length of b[start:] before it, moving it when the prefix takes more than
    the one byte left for it."""
    cdef Py_ssize_t n = b.len - start
    if n < 0x80:
        b.data[start - 1] = <char>n
        return 0
    cdef unsigned char prefix[10]
    cdef int size = encode_varint_to(prefix, <uint64_t>n)
    reserve(b, size - 1)
    memmove(b.data + start + size - 1, b.data + start, n)
    memcpy(b.data + start - 1, prefix, size)
    b.len += size - 1
    return 0


# ---- encoding: the quick way for values of the exact types fields usually hold -------


cdef inline char* raw_varint(char* p, uint64_t n) noexcept:
    while n > 0x7F:
        p[0] = <char>((n & 0x7F) | 0x80)
        p += 1
        n >>= 7
    p[0] = <char>n
    return p + 1


cdef inline char* raw_le(char* p, uint64_t value, int size) noexcept:
    cdef int i
    for i in range(size):
        p[i] = <char>((value >> (8 * i)) & 0xFF)
    return p + size


cdef inline int int_bits(Field f, object value, uint64_t* bits) noexcept:
    """An exact int in the field's range (as far as a long long reaches): 1 and its
    bits; else 0 (the general path decides)."""
    cdef int overflow = 0
    cdef long long n
    if not pb_small_int(value, &n):
        n = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow or n < f.low or n > f.high:
        return 0
    bits[0] = <uint64_t>n
    return 1


cdef inline int put_int(Buf* b, int fast, uint64_t u) except -1:
    reserve(b, 10)
    cdef char* p = b.data + b.len
    if fast == FAST_ZIGZAG:
        p = raw_varint(p, (u << 1) ^ <uint64_t>(<int64_t>u >> 63))
    elif fast == FAST_FIXED32:
        p = raw_le(p, u & 0xFFFFFFFF, 4)
    elif fast == FAST_FIXED64:
        p = raw_le(p, u, 8)
    else:
        p = raw_varint(p, u)
    b.len = p - b.data
    return 0


cdef int fast_value(Buf* b, Field f, object value) except -1:
    """Writes `value`, whose type is exactly `f.fast_type`, the quick way: returns 1, or 0
    having written nothing when the general path must (a number out of range, text that
    is not UTF-8: it raises the error)."""
    cdef int fast = f.fast
    cdef uint64_t u
    cdef Py_ssize_t size
    cdef const char* data
    cdef char packed[8]
    cdef double x
    if fast <= FAST_FIXED64:
        if not int_bits(f, value, &u):
            return 0
        return put_int(b, fast, u) + 1
    if fast == FAST_STRING:
        data = utf8_of(value, &size)
        if data == NULL:
            if not PyErr_ExceptionMatches(UnicodeEncodeError):
                return -1
            PyErr_Clear()
            return 0
    elif fast == FAST_BYTES:
        data = PyBytes_AS_STRING(value)
        size = PyBytes_GET_SIZE(value)
    elif fast == FAST_DOUBLE:
        PyFloat_Pack8(PyFloat_AS_DOUBLE(value), packed, 1)
        put_bytes(b, packed, 8)
        return 1
    elif fast == FAST_FLOAT:
        x = PyFloat_AS_DOUBLE(value)
        if PyFloat_Pack4(x, packed, 1) < 0:  # beyond float32: infinite, as a C cast makes it
            PyErr_Clear()
            PyFloat_Pack4(copysign(INFINITY, x), packed, 1)
        put_bytes(b, packed, 4)
        return 1
    else:  # FAST_BOOL
        put_byte(b, 1 if value is PY_TRUE else 0)
        return 1
    reserve(b, 10 + size)
    cdef char* p = raw_varint(b.data + b.len, <uint64_t>size)
    memcpy(p, data, size)
    b.len = (p - b.data) + size
    return 1


cdef inline bint is_zero(int fast, object value) noexcept:
    """Whether `value` (of exactly the field's fast type, not an integer) is the
    zero an implicit-presence field leaves unwritten."""
    if fast == FAST_STRING:
        return PyUnicode_GET_LENGTH(value) == 0
    if fast == FAST_BYTES:
        return PyBytes_GET_SIZE(value) == 0
    if fast == FAST_DOUBLE or fast == FAST_FLOAT:
        return PyFloat_AS_DOUBLE(value) == 0.0 and not signbit(PyFloat_AS_DOUBLE(value))
    return value is PY_FALSE


cdef int fast_field(Buf* b, Field f, object value, bint implicit) except -1:
    """A singular field whose value is of exactly `f.fast_type`, the quick way: its tag
    and value, or nothing for an implicit-presence zero. Returns 1, or 0 having written
    nothing when the general path must."""
    cdef uint64_t u
    cdef Py_ssize_t start
    if f.fast <= FAST_FIXED64:
        if not int_bits(f, value, &u):
            return 0
        if implicit and u == 0:
            return 1
        put_tag(b, f)
        return put_int(b, f.fast, u) + 1
    if implicit and is_zero(f.fast, value):
        return 1
    start = b.len
    put_tag(b, f)
    if fast_value(b, f, value):
        return 1
    b.len = start
    return 0


cdef inline int truth(object value) except -1:
    """`bool(value)`, at once for what fields usually hold."""
    if value is None:
        return 0
    if PyList_CheckExact(value):
        return PyList_GET_SIZE(value) != 0
    if PyDict_CheckExact(value):
        return PyDict_Size(value) != 0
    return PyObject_IsTrue(value)


# ---- encoding ------------------------------------------------------------------------


cdef int write_message(Buf* b, object msg, Plan plan, bint det, int depth,
                       Frame* parent) except -1:
    """As `_pure._write_message`."""
    cdef Frame fr
    enter_frame(&fr, parent)
    if depth <= 0:
        raise_encode(&fr, "nesting is too deep (or the message contains itself)")
    cdef Oneof oneof
    cdef PyObject* v
    cdef Field f
    cdef Py_ssize_t i
    cdef int is_true
    for oneof in plan.oneofs:
        case = get_slot(msg, oneof.offset, oneof.attr)
        if case is not None and (
            not PyTuple_CheckExact(case) or PyTuple_GET_SIZE(case) != 2
            or not PyDict_Contains(oneof.members, <object>PyTuple_GET_ITEM(case, 0))
        ):
            fr.piece = <PyObject*>oneof.dotted
            raise_encode(&fr, f"must be None or (member name, value), the name one of "
                              f"{oneof.listed}; got {case!r}")
    for i in range(plan.n):
        f = <Field>plan.fa[i]
        v = slot(msg, f.offset)[0]
        if v == NULL:
            value = getattr(msg, f.attr)  # raises AttributeError, as reading it would
        else:
            value = <object>v
        if f.in_oneof:
            if value is None:
                continue
            if PyTuple_CheckExact(value) and PyTuple_GET_SIZE(value) == 2:
                if PyTuple_GET_ITEM(value, 0) != <PyObject*>f.name and value[0] != f.name:
                    continue
            elif value[0] != f.name:
                continue
            value = value[1]
            if value is None:
                continue
            if <PyObject*>Py_TYPE(value) == f.fast_type and fast_field(b, f, value, False):
                continue
            is_true = -1
        elif <PyObject*>Py_TYPE(value) == f.fast_type and f.label <= OPTIONAL and fast_field(
                b, f, value, f.label == IMPLICIT):
            continue
        else:
            is_true = truth(value)
            if not is_true and type(value) is f.skip:  # unset: nothing to write or check
                continue
        fr.piece = <PyObject*>f.dotted
        write_field(b, f, value, is_true, det, depth, &fr)
    fr.piece = NULL
    v = slot(msg, plan.extensions_offset)[0]
    if v != NULL and <object>v:
        write_extensions(b, <object>v, plan, det, depth, &fr)
    v = slot(msg, plan.unknown_offset)[0]
    if v != NULL and <object>v:
        if PyBytes_CheckExact(<object>v):
            put_bytes(b, PyBytes_AS_STRING(<object>v), PyBytes_GET_SIZE(<object>v))
        else:
            written = bytearray()
            written += <object>v
            put_bytes(b, written, len(written))
    return 0


cdef int write_extensions(Buf* b, object extensions, Plan plan, bint det, int depth,
                          Frame* fr) except -1:
    for number in sorted(extensions):
        extension, value = extensions[number]
        fr.piece = <PyObject*>extension
        fr.piece_is_extension = 1
        write_extension(b, extension_field(extension), value, plan.message_set, det, depth, fr)
        fr.piece = NULL
        fr.piece_is_extension = 0
    return 0


cdef dict _extension_fields = {}


cdef Field extension_field(object extension):
    cdef PyObject* found = PyDict_GetItem(_extension_fields, id(extension))
    cdef Field f
    if found != NULL:
        f = <Field>found
        if f.spec is extension.spec:
            return f
    building = {}
    f = make_field(extension.spec, None, building)
    publish(building)
    _extension_fields[id(extension)] = f
    return f


cdef int write_extension(Buf* b, Field f, object value, bint message_set, bint det, int depth,
                         Frame* fr) except -1:
    """An extension's fields; in a MessageSet, a message extension is an item group
    (as `_pure.write_extension`)."""
    if message_set and f.kind == MESSAGE and f.label != REPEATED:
        if value is None:
            return 0
        put_byte(b, 0x0B)  # start group 1, then type_id (field 2)
        put_byte(b, 0x10)
        put_varint(b, <uint64_t>f.number)
        put_byte(b, 0x1A)  # message (field 3), length-delimited
        write_value(b, f, value, det, depth, fr)
        put_byte(b, 0x0C)  # end group 1
        return 0
    return write_field(b, f, value, -1, det, depth, fr)


cdef bint positive_zero(object value) except -1:
    """Whether a zero float field's value is +0.0 (its default, not written)."""
    if PyFloat_CheckExact(value):
        return not signbit(PyFloat_AS_DOUBLE(value))
    return _math.copysign(1.0, value) > 0


cdef int write_field(Buf* b, Field f, object value, int truth, bint det, int depth,
                     Frame* fr) except -1:
    """As `_pure._write_field`; `truth` is `bool(value)` when known, else -1."""
    cdef int label = f.label
    cdef Py_ssize_t i, start
    if label == IMPLICIT:
        if value is None:
            raise_encode(fr, "is None, but the field has no presence: set its zero value")
        if truth < 0:
            truth = PyObject_IsTrue(value)
        if not truth:
            if f.kind != DOUBLE and f.kind != FLOAT:
                start = b.len
                write_scalar(b, f.kind, value, f.utf8, f.closed_cls, fr)  # checked, not written
                b.len = start
                return 0
            if positive_zero(value):  # -0.0 is not the default: it is written
                return 0
        put_tag(b, f)
        return write_value(b, f, value, det, depth, fr)
    if label == REPEATED or label == PACKED:
        if not PyList_Check(value) and not PyTuple_Check(value):
            raise_encode(fr, f"expected a list, got {type_name(value)}")
        if not value:
            return 0
        if label == PACKED and f.packable:
            put_tag(b, f)
            start = open_length(b)
            write_items(b, f, value, False, det, depth, fr)
            close_length(b, start)
        else:
            write_items(b, f, value, True, det, depth, fr)
        return 0
    if label == MAP:
        return write_map(b, f, value, det, depth, fr)
    if value is None:  # OPTIONAL, REQUIRED
        if label == REQUIRED:
            raise_encode(fr, "a required field is not set")
        return 0
    put_tag(b, f)
    return write_value(b, f, value, det, depth, fr)


cdef int write_items(Buf* b, Field f, object items, bint tagged, bint det, int depth,
                     Frame* fr) except -1:
    cdef Py_ssize_t i
    cdef PyObject* item
    cdef uint64_t u
    cdef int fast = f.fast
    fr.extra = 1
    if PyList_CheckExact(items) and fast <= FAST_FIXED64 and fast != FAST_NONE:
        i = 0
        while i < PyList_GET_SIZE(items):
            item = PyList_GET_ITEM(items, i)
            if tagged:
                put_tag(b, f)
            if <PyObject*>Py_TYPE(<object>item) == f.fast_type and int_bits(f, <object>item, &u):
                if fast == FAST_SIGNED or fast == FAST_UNSIGNED:  # inline: the common case
                    reserve(b, 10)
                    b.len = raw_varint(b.data + b.len, u) - b.data
                else:
                    put_int(b, fast, u)
            else:
                element = <object>item  # held: writing may run a program's code
                fr.index = i
                write_value(b, f, element, det, depth, fr)
            i += 1
    elif PyList_CheckExact(items):
        i = 0
        while i < PyList_GET_SIZE(items):
            item = PyList_GET_ITEM(items, i)
            if tagged:
                put_tag(b, f)
            if (<PyObject*>Py_TYPE(<object>item) != f.fast_type
                    or not fast_value(b, f, <object>item)):
                element = <object>item  # held: writing may run a program's code
                fr.index = i
                write_value(b, f, element, det, depth, fr)
            i += 1
    else:
        i = 0
        for element in items:
            fr.index = i
            if tagged:
                put_tag(b, f)
            write_value(b, f, element, det, depth, fr)
            i += 1
    fr.extra = 0
    return 0


cdef int write_value(Buf* b, Field f, object value, bint det, int depth, Frame* fr) except -1:
    """One value's payload (after its tag): a number, text, bytes or a message."""
    cdef int kind = f.kind
    cdef Plan plan
    cdef Py_ssize_t start
    if kind == MESSAGE or kind == GROUP:
        if type(value) is f.cls:
            plan = f.plan
        elif PyObject_IsInstance(value, f.cls):
            plan = plan_for(type(value))
            if not all_standard(plan):
                return write_foreign(b, f, value, plan, det, depth, fr)
        else:
            raise_encode(fr, f"expected {f.cls.__name__}, got {type_name(value)}")
        if kind == GROUP:
            write_message(b, value, plan, det, depth - 1, fr)
            reserve(b, 6)
            memcpy(b.data + b.len, f.end_tag, f.end_tag_len)
            b.len += f.end_tag_len
            return 0
        start = open_length(b)
        write_message(b, value, plan, det, depth - 1, fr)
        return close_length(b, start)
    return write_scalar(b, kind, value, f.utf8, f.closed_cls, fr)


cdef int write_foreign(Buf* b, Field f, object value, Plan plan, bint det, int depth,
                       Frame* fr) except -1:
    """A message of a subclass whose layout is not the generated one: the pure codec
    writes it (by attribute name)."""
    out = bytearray()
    try:
        _pure_write_message(out, value, _pure_plan_of(type(value)), det, depth - 1)
    except EncodeError as e:
        raise EncodeError(e.message, frame_path(fr) + e.path) from None
    if f.kind == GROUP:
        put_bytes(b, out, len(out))
        put_bytes(b, <const char*>f.end_tag, f.end_tag_len)
    else:
        put_varint(b, <uint64_t>len(out))
        put_bytes(b, out, len(out))
    return 0


cdef int write_text(Buf* b, object value, bint validate, Frame* fr) except -1:
    cdef Py_ssize_t size
    cdef const char* data
    if PyUnicode_CheckExact(value):
        data = utf8_of(value, &size)
        if data != NULL:
            put_varint(b, <uint64_t>size)
            return put_bytes(b, data, size)
        if not PyErr_ExceptionMatches(UnicodeEncodeError):
            return -1
        PyErr_Clear()
        if validate:
            raise_encode(fr, "the text cannot be encoded as UTF-8")
    encoded = None
    try:
        encoded = value.encode("utf-8") if validate else value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        pass
    if encoded is None:
        raise_encode(fr, "the text cannot be encoded as UTF-8")
    put_varint(b, <uint64_t>len(encoded))
    return put_bytes(b, encoded, len(encoded))


cdef int write_scalar(Buf* b, int kind, object value, bint validate, object closed_cls,
                      Frame* fr) except -1:
    """A scalar's payload, type- and range-checked (as `_pure.write_scalar`)."""
    cdef double x
    cdef char packed[8]
    cdef long long n
    cdef unsigned long long u = 0
    cdef int overflow
    if kind == STRING:
        if not PyUnicode_Check(value):
            raise_encode(fr, f"expected str, got {type_name(value)}")
        return write_text(b, value, validate, fr)
    if kind == BYTES:
        if PyBytes_CheckExact(value):
            put_varint(b, <uint64_t>PyBytes_GET_SIZE(value))
            return put_bytes(b, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise_encode(fr, f"expected bytes, got {type_name(value)}")
        put_varint(b, <uint64_t>len(value))
        payload = bytearray()
        payload += value
        return put_bytes(b, payload, len(payload))
    if kind == DOUBLE or kind == FLOAT:
        if PyFloat_CheckExact(value):
            x = PyFloat_AS_DOUBLE(value)
            if kind == DOUBLE:
                PyFloat_Pack8(x, packed, 1)
                return put_bytes(b, packed, 8)
            if PyFloat_Pack4(x, packed, 1) < 0:  # beyond float32: infinite, as a C cast makes it
                PyErr_Clear()
                PyFloat_Pack4(copysign(INFINITY, x), packed, 1)
            return put_bytes(b, packed, 4)
        if not isinstance(value, (float, int)):
            raise_encode(fr, f"expected float, got {type_name(value)}")
        if kind == DOUBLE:
            written = _F64.pack(value)
        else:
            try:
                written = _F32.pack(value)
            except OverflowError:
                written = _F32.pack(_math.copysign(_math.inf, value))
        return put_bytes(b, written, len(written))
    if kind == BOOL:
        if value is PY_TRUE:
            return put_byte(b, 1)
        if value is PY_FALSE:
            return put_byte(b, 0)
        raise_encode(fr, f"expected bool, got {type_name(value)}")
    if not PyLong_Check(value):
        raise_encode(fr, f"expected int, got {type_name(value)}")
    n = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow == 0:
        if kind == INT32 or kind == SINT32 or kind == SFIXED32 or kind == ENUM:
            if n < -2147483648 or n > 2147483647:
                out_of_range(value, kind, fr)
        elif kind == UINT32 or kind == FIXED32:
            if n < 0 or n > 4294967295:
                out_of_range(value, kind, fr)
        elif kind == UINT64 or kind == FIXED64:
            if n < 0:
                out_of_range(value, kind, fr)
        u = <unsigned long long>n
    elif overflow > 0 and (kind == UINT64 or kind == FIXED64):
        u = PyLong_AsUnsignedLongLong(value)
        if u == <unsigned long long>-1 and PyErr_Occurred() != NULL:
            PyErr_Clear()
            out_of_range(value, kind, fr)
        n = <long long>u
    else:
        out_of_range(value, kind, fr)
    if closed_cls is not None and not PyDict_Contains(closed_cls._value2member_map_, value):
        raise_encode(fr, f"{value} is not a value of the closed enum {closed_cls.__name__}")
    if kind == SINT32 or kind == SINT64:
        return put_varint(b, (<uint64_t>n << 1) ^ <uint64_t>(n >> 63))
    if kind == FIXED32 or kind == SFIXED32:
        return put_le(b, <uint64_t>u & 0xFFFFFFFF, 4)
    if kind == FIXED64 or kind == SFIXED64:
        return put_le(b, <uint64_t>u, 8)
    return put_varint(b, <uint64_t>u)


cdef int out_of_range(object value, int kind, Frame* fr) except -1:
    raise_encode(fr, f"{value} is out of range for {_KIND_NAMES[kind]}")


cdef int write_map(Buf* b, Field f, object value, bint det, int depth, Frame* fr) except -1:
    if not PyDict_Check(value):
        raise_encode(fr, f"expected a dict, got {type_name(value)}")
    if not value:
        return 0
    cdef PyObject* key
    cdef PyObject* item
    cdef Py_ssize_t pos = 0
    if det:
        for k, v in deterministic_order(value.items(), f.key.kind):
            write_entry(b, f, k, v, det, depth, fr)
    elif PyDict_CheckExact(value):
        while PyDict_Next(value, &pos, &key, &item):
            k = <object>key  # held: writing may run a program's code (a str subclass's encode)
            v = <object>item
            write_entry(b, f, k, v, det, depth, fr)
    else:
        for k, v in value.items():
            write_entry(b, f, k, v, det, depth, fr)
    fr.extra = 0
    return 0


cdef int write_entry(Buf* b, Field f, object key, object value, bint det, int depth,
                     Frame* fr) except -1:
    cdef Field key_field = f.key
    cdef Field value_field = f.value
    fr.extra = 2
    fr.key = <PyObject*>key
    put_tag(b, f)
    cdef Py_ssize_t start = open_length(b)
    put_tag(b, key_field)
    if <PyObject*>Py_TYPE(key) != key_field.fast_type or not fast_value(b, key_field, key):
        write_scalar(b, key_field.kind, key, key_field.utf8, None, fr)
    if value_field.kind == MESSAGE and value is None:
        raise_encode(fr, "a map's message value cannot be None")
    put_tag(b, value_field)
    if <PyObject*>Py_TYPE(value) != value_field.fast_type or not fast_value(b, value_field, value):
        write_value(b, value_field, value, det, depth, fr)
    return close_length(b, start)


# ---- the codec's face ------------------------------------------------------------------


cdef inline Plan top_plan(object cls):
    cdef PyObject* found = PyDict_GetItem(_plans, cls)
    cdef Plan plan
    if found != NULL:
        plan = <Plan>found
    else:
        plan = plan_for(cls)
    if plan.all_standard == 1 or all_standard(plan):
        return plan
    return None


def encode(msg, deterministic=False):
    """The binary encoding of `msg` (as `_pure.encode`)."""
    cdef Plan plan = top_plan(type(msg))
    if plan is None:
        return _pure.encode(msg, deterministic)
    cdef bint det = bool(deterministic)
    cdef Frame root
    enter_frame(&root, NULL)
    root.name = <PyObject*>plan.name
    cdef Buf b
    take_buffer(&b)
    try:
        write_message(&b, msg, plan, det, MAX_DEPTH, &root)
        return PyBytes_FromStringAndSize(b.data, b.len)
    finally:
        give_back(&b)


def decode(cls, data, max_depth=MAX_DEPTH):
    """A new `cls` decoded from `data` (as `_pure.decode`)."""
    cdef Plan plan = top_plan(cls)
    if plan is None:
        return _pure.decode(cls, data, max_depth)
    obj = new_message(plan)
    cdef int collecting = PyGC_Disable()  # see merge_into
    try:
        merge_into(obj, plan, data, max_depth)
    except:  # any error: what was built is freed in turns before it goes on
        dismantle(obj, plan, MAX_DEPTH)  # while the collector waits, else it walks it all first
        raise
    finally:
        if collecting:
            PyGC_Enable()
    return obj


cdef int dismantle(object obj, Plan plan, int depth) except -1:
    """Frees the messages inside `obj`, a message decoding gave up on: each
    repeated field's list emptied in turns (drop_in_turns), its messages'
    insides first, so that no step frees more than a slice, where freeing it
    all at once would hold the GIL throughout (2 million empty messages: a few
    hundred milliseconds)."""
    cdef Field f
    cdef PyObject* v
    cdef Py_ssize_t i
    cdef list items
    if depth <= 0:
        return 0
    for i in range(plan.n):
        f = <Field>plan.fa[i]
        if (f.kind != MESSAGE and f.kind != GROUP) or f.label == MAP or f.in_oneof:
            continue
        v = slot(obj, f.offset)[0]
        if v == NULL or <object>v is None:
            continue
        if f.label != REPEATED:
            dismantle(<object>v, plan_for(type(<object>v)), depth - 1)
        elif PyList_CheckExact(<object>v):
            items = <list>v
            for item in items:
                tick()
                dismantle(item, plan_for(type(item)), depth - 1)
            drop_in_turns(items, PyList_GET_SIZE(items))
    return 0


def merge(obj, data, max_depth=MAX_DEPTH):
    """Merges the fields encoded in `data` into `obj` (as `_pure.merge`)."""
    raw = data if isinstance(data, bytes) else bytes(data)
    cdef Plan plan = top_plan(type(obj))
    if plan is None:
        return _pure.merge(obj, raw, max_depth)
    cdef int collecting = PyGC_Disable()  # see merge_into
    try:
        merge_into(obj, plan, raw, max_depth)
    finally:
        if collecting:
            PyGC_Enable()


cdef merge_into(object obj, Plan plan, object data, object max_depth):
    cdef bytes raw = data if PyBytes_CheckExact(data) else bytes(data)
    # deeper than the input is long cannot be reached: a limit beyond that is no limit
    cdef int depth = max_depth if -1 <= max_depth < (1 << 30) else (
        (1 << 30) if max_depth > 0 else -1)
    cdef Frame root
    enter_frame(&root, NULL)
    root.name = <PyObject*>plan.name
    # The callers hold the cyclic garbage collector off meanwhile: every
    # message and list made here is tracked by it, and it would run over them
    # again and again as they are made (nine tenths of the time on a long list
    # of small messages); they cannot form a cycle before the caller has them,
    # so it waits until then, as with the Thrift codec.
    try:
        dec_merge(obj, plan, <cbytes>PyBytes_AS_STRING(raw), 0, PyBytes_GET_SIZE(raw), depth, 0,
                  &root)
    finally:
        flush_unknown(&root)
    if may_require(plan):
        problem = missing_required(obj, plan, MAX_DEPTH)
        if problem is not None:
            raise DecodeError("a required field is not set", plan.name + problem)
