# What the compiled codecs (pilota/runtime/_speedups.pyx and
# pilota/runtime/protobuf/_speedups.pyx) share: the output buffer they encode
# into, and the turn decoding gives other threads.

from cpython.mem cimport PyMem_Realloc
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy


ctypedef struct Buf:
    char* data
    Py_ssize_t len
    Py_ssize_t cap


# An encode call takes the module's reusable buffer (leaving none behind, so
# that a nested call allocates its own) and hands it back after.
cdef int take_buffer(Buf* b) except -1
cdef void give_back(Buf* b) noexcept


cdef inline int grow(Buf* b, Py_ssize_t n) except -1:
    cdef Py_ssize_t cap = b.cap * 2
    while cap < b.len + n:
        cap *= 2
    cdef char* data = <char*>PyMem_Realloc(b.data, cap)
    if data == NULL:
        raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef inline int reserve(Buf* b, Py_ssize_t n) except -1:
    if b.len + n > b.cap:
        grow(b, n)
    return 0


cdef inline int put_byte(Buf* b, int value) except -1:
    reserve(b, 1)
    b.data[b.len] = <char>value
    b.len += 1
    return 0


cdef inline int put_be(Buf* b, uint64_t value, int size) except -1:
    reserve(b, size)
    cdef int i
    for i in range(size):
        b.data[b.len + i] = <char>((value >> (8 * (size - 1 - i))) & 0xFF)
    b.len += size
    return 0


cdef inline int put_le(Buf* b, uint64_t value, int size) except -1:
    reserve(b, size)
    cdef int i
    for i in range(size):
        b.data[b.len + i] = <char>((value >> (8 * i)) & 0xFF)
    b.len += size
    return 0


cdef inline int put_bytes(Buf* b, const char* data, Py_ssize_t n) except -1:
    reserve(b, n)
    memcpy(b.data + b.len, data, n)
    b.len += n
    return 0


cdef inline int put_varint(Buf* b, uint64_t n) except -1:
    reserve(b, 10)
    while n > 0x7F:
        b.data[b.len] = <char>((n & 0x7F) | 0x80)
        b.len += 1
        n >>= 7
    b.data[b.len] = <char>n
    b.len += 1
    return 0


cdef inline int put_zigzag(Buf* b, int64_t n) except -1:
    return put_varint(b, (<uint64_t>n << 1) ^ <uint64_t>(n >> 63))


# Decoding holds the GIL throughout; every TICKS_PER_TURN items of a list, set
# or map (the Thrift codec) or fields (protobuf's), a millisecond's work at
# most, a codec lets a thread that waits for the GIL have a turn, as Python
# code would. A server decoding a large request on
# a thread of its own so keeps its event loop serving other calls
# (volo.decoding). A turn with no thread waiting costs a Python call.
# `turns_given()` counts them.
cdef enum:
    TICKS_PER_TURN = 4096


cdef int give_turn() except -1


cdef inline int turn_at(Py_ssize_t i) except -1:
    """A turn at every TICKS_PER_TURN-th item of a container loop (`i` its index)."""
    if i & (TICKS_PER_TURN - 1) == TICKS_PER_TURN - 1:
        give_turn()
    return 0
cdef int drop_in_turns(list items, Py_ssize_t filled) except -1
