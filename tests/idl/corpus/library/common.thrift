/**
 * Types shared by the library services: included by library.thrift from the
 * folder beside it, as a published IDL tree includes its common definitions.
 */
namespace cpp library.common
namespace java org.example.library.common
namespace go library.common
namespace netstd Example.Library.Common
namespace js LibraryCommon
namespace * library.common

typedef i64 Id
typedef string Isbn
typedef list<Id> Ids
typedef Ids IdBatch  // a typedef of a typedef

enum Format {
    HARDCOVER = 1,
    PAPERBACK,  // 2: one more than the one before
    EBOOK = 0x10,
    AUDIO,  // 17
    UNKNOWN = -1,
}

const Format DEFAULT_FORMAT = Format.PAPERBACK

struct Page {
    1: i32 offset = 0,
    2: i32 limit = 50,
}

exception NotFound {
    1: string what,
    2: optional Id id,
}

exception Unavailable {
    1: string reason,
    2: i32 retry_after_seconds = 30,
}

service Health {
    bool ping(),
    string version(),
}
