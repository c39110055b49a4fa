/** Types shared by the shop services. */
namespace py shop.base

typedef i64 Id
typedef string Sku

enum Status {
    ACTIVE = 1,
    SUSPENDED,
    DELETED = 10,
}

struct Money {
    1: required i64 units,
    2: required string currency = "EUR",
}

const Money ZERO = {"units": 0, "currency": "EUR"}

exception NotFound {
    1: Id id,
    2: string message,
}

service BaseService {
    string ping(),
}
