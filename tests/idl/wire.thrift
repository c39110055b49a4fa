/**
 * Wire shapes two Thrift implementations must agree on byte for byte, beyond
 * rich.thrift: empty structs, bools far apart (compact keeps a bool in its
 * field header, and ids more than 15 apart need the long header), containers
 * nested three deep, binary set members and map keys, enum map keys with
 * typedef values, optional fields with defaults, required structs inside
 * optional ones, unions and exceptions holding containers and structs.
 * Readable by Apache's 0.17 compiler, so the interop tests can use it.
 */
namespace py wire

enum Suit { CLUBS = 0, DIAMONDS = 1, HEARTS = 2, SPADES = 3 }

typedef i64 Chips

struct Nothing {}

struct Wraps {
    1: Nothing inside,
}

struct Flags {
    1: bool first,
    2: bool second,
}

/** Field ids 15 and 16 apart straddle compact's short header; 32767 is the largest id. */
struct Spread {
    1: Flags near,
    16: bool sixteen_on,
    31: bool fifteen_more,
    47: Flags farther,
    700: bool far_on,
    1900: set<string> far_set,
    30000: list<i64> far_list,
    32767: bool last_on,
}

struct Deep {
    1: list<list<list<i16>>> cube,
    2: list<set<i32>> rows_of_sets,
    3: map<i32, set<string>> index,
    4: list<map<string, list<double>>> series,
    5: map<Suit, Chips> stacks,
    6: map<string, string> headers,
    7: list<list<list<Flags>>> flag_cube,
}

struct Bytes {
    1: optional set<binary> digests = [],
    2: optional map<binary, i16> sizes = {},
    3: optional list<binary> chunks,
}

struct Preset {
    1: optional bool enabled = true,
    2: optional string mode = "fast",
    3: optional set<string> labels = ["default"],
    4: i8 level = -3,
    5: double ratio = 0.25,
    6: Suit trump = Suit.HEARTS,
}

struct Named {
    1: required string name,
}

struct Holder {
    1: optional Named maybe,
    2: required Named surely,
}

union Payload {
    1: map<string, Named> table,
    2: list<Suit> suits,
    3: Flags flags,
    4: binary raw,
}

exception Refused {
    1: i32 code,
    2: Holder holder,
    3: optional Payload payload,
}
