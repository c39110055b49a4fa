// Field names in capitals, as in Parquet's IDL: pyright reads such names as
// constants, so the generated code must not look like it redefines one.
namespace py upper

struct Limits {
    1: required i32 MAX_ITEMS,
    2: optional string ID,
    3: list<i32> SIZES = [1, 2],
    4: i64 TTL_2 = 60,
    5: i32 mixed_Case,
    6: i32 _,
}

union Pick {
    1: i32 BY_ID,
    2: string BY_NAME,
}

exception LIMIT_EXCEEDED {
    1: i32 MAX,
}

service Quota {
    Limits get(1: i32 MAX_ITEMS, 2: Limits CURRENT) throws (1: LIMIT_EXCEEDED E),
}
