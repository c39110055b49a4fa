# cython: language_level=3
"""The compiled codecs' shared parts (see _buffer.pxd): their reusable output
buffer, and the turns decoding gives other threads. No pure-Python twin: only
the compiled codecs use it."""

from cpython.mem cimport PyMem_Free, PyMem_Malloc

# A larger buffer is freed rather than kept.
cdef Py_ssize_t SCRATCH_KEEP = 1 << 20

cdef Buf _scratch
_scratch.data = NULL
_scratch.cap = 0
_scratch.len = 0

cdef Py_ssize_t _turns_given = 0


cdef int take_buffer(Buf* b) except -1:
    if _scratch.data != NULL:
        b.data = _scratch.data
        b.cap = _scratch.cap
        _scratch.data = NULL
        _scratch.cap = 0
    else:
        b.data = <char*>PyMem_Malloc(512)
        if b.data == NULL:
            raise MemoryError()
        b.cap = 512
    b.len = 0
    return 0


cdef void give_back(Buf* b) noexcept:
    if _scratch.data == NULL and b.cap <= SCRATCH_KEEP:
        _scratch.data = b.data
        _scratch.cap = b.cap
    else:
        PyMem_Free(b.data)
    b.data = NULL


# A function of Python bytecode, doing nothing: calling it runs the eval loop,
# which hands the GIL over if another thread has asked for it (a thread that
# has waited sys.getswitchinterval() for it asks), as Python code does. (Only
# releasing the GIL here would not: this thread would take it back before the
# waiting one woke, and so often that the waiting one would never ask.)
cdef object _eval_loop = eval("lambda: None")


cdef int give_turn() except -1:
    global _turns_given
    _turns_given += 1
    _eval_loop()
    return 0


cdef int drop_in_turns(list items, Py_ssize_t filled) except -1:
    """Empties `items`, a list that decoding gave up on with its first `filled`
    items made (the rest not set yet): a slice at a time from the end, with a
    turn for other threads after each, where freeing them all at once would
    hold the GIL throughout (a million structs: some 30 ms)."""
    cdef Py_ssize_t start
    del items[filled:]
    while filled > TICKS_PER_TURN:
        start = filled - TICKS_PER_TURN
        del items[start:filled]
        filled = start
        give_turn()
    del items[:filled]
    return 0


def turns_given():
    """How many turns decoding has offered other threads, ever (what tests read)."""
    return _turns_given
