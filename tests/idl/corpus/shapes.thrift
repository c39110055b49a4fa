/** Struct shapes: requiredness mixes, many optional fields, fields without ids, defaults of every kind, empty types. */
namespace py shapes

enum Level { LOW, MEDIUM, HIGH }

struct Empty {}

exception Bare {}

struct Mixed {
    1: required i32 must,
    2: optional i32 may,
    3: i32 plain,
    4: required string must_with_default = "x",
    5: optional string may_with_default = "y",
    6: string plain_with_default = "z",
    7: required list<i32> must_list,
    8: optional map<string, Empty> may_map,
    9: Level level = Level.MEDIUM,
    10: optional Level maybe_level = 2,
}

struct Settings {
    1: optional bool verbose,
    2: optional i8 retries,
    3: optional i16 port,
    4: optional i32 timeout_ms,
    5: optional i64 quota,
    6: optional double ratio,
    7: optional string name,
    8: optional binary secret,
    9: optional list<string> hosts,
    10: optional set<i64> ids,
    11: optional map<string, string> env,
    12: optional Level level,
    13: optional Empty marker,
    14: optional Mixed mixed,
    15: optional list<list<Level>> levels,
    16: optional map<Level, set<string>> by_level,
}

struct Implicit {
    string first,
    i32 second,
    10: string with_id,
    list<i64> third,
}

struct Defaults {
    1: list<i32> numbers = [1, 2, 3],
    2: set<string> words = ["a", "b"],
    3: map<string, list<i16>> table = {"k": [1]},
    4: Empty nothing = {},
    5: Mixed mixed = {"must": 1, "must_list": []},
    6: double scale = 1,
    7: binary blob = "raw",
    8: i32 offset = -0x10,
    9: i64 wide = 0x7FFFFFFFFFFFFFFF,
}

union Single {
    1: Empty empty,
}

service Shapes {
    void nothing(),
    Empty empty(1: Empty empty) throws (1: Bare bare),
    Mixed defaults(1: Defaults defaults, 2: Settings settings, 3: Implicit implicit),
    Single single(),
}
