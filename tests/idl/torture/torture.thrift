/**
 * Names that collide with what the generated code uses: its own aliases (`_p`,
 * `_t`, `_uuid`, `_enum`), Python's builtins, `enum`'s reserved names, the
 * members of the runtime's classes and the locals of generated methods. Each
 * must be renamed in Python (the IDL name stays on the wire), and the module
 * must import, round-trip and type-check.
 */
include "int.thrift"

/** Shadows the builtin `list`, which a typedef below uses. */
struct list {
    1: i32 length,
}

typedef list<i32> Numbers

struct object {
    1: string object,
    2: i32 SHOUTED,
}

struct classmethod {}

struct NotImplementedError {}

struct float {}

/** Reserved by `enum`, or members every IntEnum has. */
enum Reserved {
    _x_ = 1,
    _missing_ = 2,
    mro = 3,
    name = 4,
    value = 5,
    _ = 6,
    _order_ = 7,
    _ignore_ = 8,
    real = 9,
    to_bytes = 10,
    __init__ = 11,
    _generate_next_value_ = 12,
    denominator = 13,
    _private = 14,
}

exception raise {
    1: optional raise raise,
    2: string message,
}

const double NAN = 0.5

union Either {
    1: i32 _p,
    2: string kind,
    3: double value,
    4: binary _t,
}

struct Aliases {
    1: i32 _p,
    2: string _t,
    3: uuid _uuid,
    4: bool _enum,
    5: double float = NAN,
    6: set<i32> frozenset = [1, 2],
    7: list<Reserved> list = [Reserved._x_],
    8: i32 NotImplementedError,
    9: i32 object,
    10: i32 OBJECT,
    11: int.Number int,
    12: Reserved Reserved = Reserved.mro,
    13: map<string, list<i32>> dict = {"a": [1]},
    14: optional object obj,
    15: required i32 self,
    16: i32 cls,
    17: i32 annotations,
}

struct first_ {}

/** `second` is renamed `first`, taken: the `_` that clears it must not make it `first_`. */
struct Renamed {
    1: i32 first,
    2: i32 second (pilota.name = "first"),
    3: first_ other,
}

const Reserved FIRST = Reserved._missing_
const list<Reserved> ALL = [Reserved._x_, Reserved.mro, Reserved.__init__]
const int.Number NUMBER = {"value": int.ANSWER}
const map<Reserved, string> LABELS = {Reserved.name: "name", Reserved._: "_"}

service super {
    i32 call(1: i32 _p, 2: string _t, 3: uuid _uuid, 4: i32 result),
    void _call(1: i32 self, 2: i32 cls),
    raise raise(1: raise raise) throws (1: raise raise_),
    Either object_call_args(1: i32 object_call_args, 2: i32 object_call_result, 3: i32 NotImplementedError),
    list<i32> float(1: float float, 2: double value),
    oneway void close(1: Numbers _enum),
}

/** Definitions named as if private: used from outside the module, each is renamed (an unused private class fails pyright). */
struct _hidden {}
exception _Failure {}
union _Choice {}
enum _Level { LOW = 1 }
typedef i32 _Count
const _Count _LIMIT = 3
service _Internal {
    _Level level(1: _hidden h, 2: _Choice c, 3: _Count n) throws (1: _Failure f),
}
