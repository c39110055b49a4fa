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
