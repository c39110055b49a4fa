/**
 * Shapes for the codec limits and the codec fuzzers (tests/fuzz): what a
 * hostile peer sends to make a small message cost much time or memory, and
 * every kind of value, so that mutations reach every decoding path.
 */
namespace py limits

enum Mood { CALM = 1, ANGRY = 2 }

/** Empty on the wire: one byte (its stop) in a list. */
struct Node {
    1: optional i32 value,
    2: optional list<Node> children,
}

struct Nodes {
    1: list<Node> nodes,
}

struct Key {
    1: optional i32 id,
    2: optional string name,
}

/** Compact writes an empty Key in one byte and an empty list<Key> in one. */
struct KeyMap {
    1: map<Key, list<Key>> links,
}

/** Two i64s: tuples of them can be made to collide in Python's (unkeyed) tuple hash. */
struct Pair {
    1: i64 a,
    2: i64 b,
}

struct PairCounts {
    1: map<Pair, i32> counts,
    2: set<Pair> seen,
}

struct Flags {
    1: list<bool> flags,
}

/** Each absent field is made by a factory: objects no byte on the wire paid for. */
struct Defaults {
    1: list<i32> numbers = [1, 2, 3],
    2: map<string, i32> named = {"a": 1},
    3: set<i64> seen = [7],
    4: list<list<i32>> grid = [[1], [2]],
}

struct ManyDefaults {
    1: list<Defaults> items,
}

/** Containers inside containers inside structs: a changed element type deep
 * down makes the whole field another type. */
struct Deep {
    1: optional list<list<Deep>> below,
    2: optional map<i32, list<Deep>> keyed,
    3: optional i64 tail,
    4: optional set<list<i16>> shapes,
}

struct Strict {
    1: required i32 id,
    2: required list<list<i32>> grid,
    3: optional set<string> tags,
    4: required map<string, list<Mood>> moods,
}

union Either {
    1: i64 number,
    2: string text,
    3: list<Either> many,
    4: map<Mood, Either> by_mood,
}

struct Kinds {
    1: bool a_bool,
    2: i8 a_byte,
    3: i16 a_i16,
    4: i32 a_i32,
    5: i64 a_i64,
    6: double a_double,
    7: string a_string,
    8: binary a_binary,
    9: uuid a_uuid,
    10: Mood a_mood,
    11: set<list<i32>> frozen_lists,
    12: map<list<i32>, set<string>> frozen_keys,
    13: list<map<i16, double>> tables,
    14: map<Key, Either> keyed,
    15: set<Key> keys,
    16: optional Kinds next,
    17: list<binary> blobs,
    18: map<bool, list<bool>> truths,
    40: optional Strict strict,
    41: optional Deep deep,
}
