struct Meta { 1: string note }
union Value {
    1: i64 int_value,
    2: double double_value,
    3: string string_value,
    4: list<Value> list_value,
    5: Meta meta,
}
union Shape { 1: i32 kind, 2: string value }
struct Holder { 1: Value value, 2: optional Shape shape }
