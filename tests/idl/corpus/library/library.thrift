/** A lending library: services extending an included one, and constants built from included enums. */
include "common.thrift"

namespace py library
namespace java org.example.library

typedef common.Id BookId

struct Author {
    1: required common.Id id,
    2: required string name,
    3: optional i16 born,
}

struct Book {
    1: required BookId id,
    2: required common.Isbn isbn,
    3: string title,
    4: list<Author> authors,
    5: set<common.Format> formats = [common.Format.PAPERBACK],
    6: map<common.Format, i32> copies = {common.Format.HARDCOVER: 1},
    7: optional double rating,
    8: common.IdBatch related = [],
    9: binary cover,
}

struct Loan {
    1: required BookId book,
    2: required common.Id reader,
    3: i64 due_epoch_ms,
    4: optional bool renewed = false,
}

const Book SAMPLE = {
    "id": 1,
    "isbn": "978-0-00-000000-2",
    "title": "A Sample",
    "authors": [{"id": 7, "name": "Anon"}],
    "formats": [common.Format.EBOOK, common.Format.AUDIO],
}
const list<common.Format> LENDABLE = [common.Format.HARDCOVER, common.Format.PAPERBACK]
const map<common.Format, string> FORMAT_NAMES = {
    common.Format.HARDCOVER: "hardcover",
    common.Format.EBOOK: "e-book",
}

service Catalog extends common.Health {
    Book get(1: BookId id) throws (1: common.NotFound missing),
    list<Book> search(1: string query, 2: common.Page page, 3: set<common.Format> formats)
        throws (1: common.Unavailable busy),
    map<BookId, Book> get_many(1: common.IdBatch ids),
}

service Lending extends Catalog {
    Loan borrow(1: BookId book, 2: common.Id reader)
        throws (1: common.NotFound missing, 2: common.Unavailable taken),
    void give_back(1: Loan loan) throws (1: common.NotFound missing),
    oneway void remind(1: common.Id reader, 2: list<Loan> overdue),
    Loan renew(1: Loan loan, 2: i16 days = 14),
}
