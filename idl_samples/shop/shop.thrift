/** A small shop: includes, typedefs, enums, unions, containers and inheritance. */
include "base.thrift"

namespace py shop

const i32 MAX_ITEMS = 100
const list<base.Status> VISIBLE = [base.Status.ACTIVE]
const map<string, base.Money> PRICES = {"apple": {"units": 120}, "pear": {"units": 0}}

struct Item {
    1: required base.Sku sku,
    2: required string name,
    3: base.Money price = {"units": 0},
    4: set<string> tags,
    5: base.Status status = base.Status.ACTIVE,
    /** `from` and `type` are Python keywords, and fine as field names. */
    6: optional string from,
    7: optional string type,
}

union Query {
    1: base.Sku sku,
    2: string text,
}

service Shop extends base.BaseService {
    Item get(1: base.Id id) throws (1: base.NotFound missing),
    list<Item> search(1: Query query, 2: i32 limit = MAX_ITEMS),
    oneway void forget(1: base.Id id),
}
