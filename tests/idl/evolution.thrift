/** Two versions of one struct, for unknown-field handling. */
struct V1 {
    1: i32 a,
}
struct V2 {
    1: i32 a,
    2: string b,
    3: list<map<string, i64>> c,
    4: bool d,
    5: double e,
    6: V1 f,
    7: set<bool> g,
    300: i64 h,
}

/*
 * One struct as two versions of an IDL declare it: the same ids, most with
 * another type in the later version. A field that arrives as another type
 * than declared is skipped, as Apache skips it; a container whose element,
 * key or value type changed counts as another type as a whole. Fields 15 and
 * 16 change only in ways the wire does not see, so they still decode.
 */
enum Level { LOW = 1, HIGH = 2 }

struct PartBefore {
    1: i32 code,
    2: i32 quantity,
}
struct PartAfter {
    1: string code,
    2: i32 quantity,
}

struct Before {
    1: i32 count,
    2: bool flag,
    3: i16 bits,
    4: list<i32> ids,
    5: set<i32> tags,
    6: map<string, i32> scores,
    7: map<i32, string> labels,
    8: list<list<i32>> grid,
    9: list<bool> switches,
    10: V1 owner,
    11: list<i32> pending,
    12: set<i32> order,
    13: i8 tiny,
    14: list<PartBefore> parts,
    15: i32 level,
    16: string text,
    17: string limit,
    20: i64 stable,
}
struct After {
    1: string count,
    2: i32 flag,
    3: bool bits,
    4: list<string> ids,
    5: set<string> tags,
    6: map<string, string> scores,
    7: map<string, string> labels,
    8: list<list<string>> grid,
    9: list<i16> switches,
    10: i64 owner,
    11: list<string> pending,
    12: list<i32> order,
    13: bool tiny,
    14: list<PartAfter> parts,
    15: Level level,
    16: binary text,
    17: i32 limit = 10,
    20: i64 stable,
}

/** A required field cannot be skipped: its type changing is an error. */
struct KeyBefore {
    1: required i32 key,
}
struct KeyAfter {
    1: required string key,
}
