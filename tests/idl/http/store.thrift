// A store served over RPC and, as its annotations say (Hertz's convention), over HTTP.
namespace py store

enum Kind {
    BOOK = 1,
    TOOL = 2,
}

struct Item {
    1: required i64 id,
    2: required string name,
    3: double price,
    4: list<string> tags,
    5: optional Kind kind,
}

struct GetItemRequest {
    1: i64 id (api.path = "id"),
    2: optional bool verbose (api.query = "verbose"),
    3: optional string trace (api.header = "X-Trace"),
    4: optional string session (api.cookie = "session"),
}

struct CreateItemRequest {
    1: string shop (api.path = "shop"),
    2: required string name (api.body = "name"),
    3: double price (api.body = "price"),
    4: list<string> tags (api.body = "tags"),
    5: optional Kind kind (api.body = "kind"),
    6: optional string token (api.header = "X-Token"),
}

struct SearchRequest {
    1: required string q (api.query = "q"),
    2: i32 limit = 10 (api.query = "limit"),
    3: list<string> tags (api.query = "tag"),
}

struct SearchResponse {
    1: list<Item> items,
    2: i32 total,
}

struct LoginRequest {
    1: required string user (api.form = "user"),
    2: optional string password (api.form = "password"),
}

exception NotFound {
    1: string what,
}

service Store {
    Item GetItem(1: GetItemRequest req) throws (1: NotFound missing) (api.get = "/items/:id"),
    Item CreateItem(1: CreateItemRequest req) (api.post = "/shops/:shop/items"),
    SearchResponse Search(1: SearchRequest req) (api.get = "/search"),
    string Login(1: LoginRequest req) (api.post = "/login"),
    Item Rename(1: i64 id (api.path = "id"), 2: string name (api.query = "name"))
        throws (1: NotFound missing) (api.put = "/items/{id}/name"),
    void Forget(1: i64 id (api.path = "id")) (api.delete = "/items/:id"),
    /** No HTTP annotation: served over RPC only. */
    i32 Count(),
}
