// HTTP routes from Hertz's annotations: a request struct, arguments bound one by
// one, defaults (body for POST, query for GET), a service that extends another.
struct Query {
    1: i64 id (api.path = "id"),
    2: optional string lang (api.query = "lang"),
    3: optional string agent (api.header = "User-Agent"),
    4: string note,
}
struct Note { 1: string text }
service Base {
    string health() (api.get = "/health"),
}
service Notes extends Base {
    Note get(1: Query q) (api.get = "/notes/:id"),
    Note add(1: Note note) (api.post = "/notes"),
    void tag(1: i64 id (api.path = "id"), 2: string tag, 3: Note extra) (api.patch = "/notes/:id"),
    void untracked(),
}
