// Classes the volo.http tests send and receive as JSON (by field name).
namespace py items

enum Status {
    ACTIVE = 1,
    RETIRED = 2,
}

struct Item {
    1: required string name,
    2: double price,
    3: list<string> tags,
    4: binary data,
    5: optional Status status,
    6: optional i64 id,
    7: optional map<i32, string> notes,
}
