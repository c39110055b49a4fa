/**
 * A type-rich IDL for runtime and interop tests. Everything here is also
 * readable by Apache's 0.17 compiler (so no uuid; see uuid.thrift).
 */
namespace py rich

enum Color { RED = 1, GREEN = 2, BLUE = 4 }

typedef i64 Timestamp
typedef list<string> Names

struct Leaf {
    1: string label,
    2: optional i32 weight,
}

struct Scalars {
    1: bool a_bool,
    2: i8 a_byte,
    3: i16 a_i16,
    4: i32 a_i32,
    5: i64 a_i64,
    6: double a_double,
    7: string a_string,
    8: binary a_binary,
    9: Color a_color,
    10: Timestamp a_time,
}

union Choice {
    1: i32 number,
    2: string text,
    3: Leaf leaf,
    4: list<Choice> many,
}

exception Failure {
    1: string message,
    2: i32 code,
}

struct Everything {
    1: required i64 id,
    2: optional string note,
    3: Scalars scalars,
    4: list<i32> ints,
    5: set<string> tags,
    6: map<string, i64> counts,
    7: map<i32, Leaf> by_id,
    8: list<list<double>> matrix,
    9: set<Color> colors,
    10: map<Color, list<Leaf>> by_color,
    11: Names names,
    12: optional Choice choice,
    13: list<bool> flags,
    14: map<string, set<i16>> nested,
    15: optional Everything child,
    16: i32 with_default = 17,
    17: list<i8> small = [1, 2, 3],
    18: optional Failure failure,
    300: optional string far_away,
}

struct Medium {
    1: i8 a_byte,
    2: i16 a_i16,
    3: i32 a_i32,
    4: i64 a_i64,
    5: string name,
    6: double score,
    7: bool active,
    8: list<i32> values,
    9: map<string, i64> counts,
    10: Leaf leaf,
}

service Rich {
    Everything echo(1: Everything value) throws (1: Failure failure),
    oneway void fire(1: string what),
}
