/**
 * Names that are keywords or builtins in Python or other languages, and names
 * that collide with what generated code itself defines. Apache refuses most of
 * these ("reserved language keyword"); Pilota accepts them and mangles where
 * Python must.
 */
namespace py names

enum type { class = 1, def = 2, None = 3, True = 4, self = 5 }

struct from {
    1: i32 import,
    2: string class,
    3: list<i32> lambda,
    4: type type,
    5: bool self,
    6: string from_,
    7: i32 kind,
    8: i32 value,
    9: string to_bytes,
    10: string from_bytes,
}

struct object {
    1: optional from yield,
    2: map<string, from> global,
}

exception raise {
    1: string async,
    2: string await,
}

union match {
    1: i32 case,
    2: string _,
}

const type DEFAULT_TYPE = type.class
const i32 print = 1

service def {
    from return(1: i32 pass, 2: object while) throws (1: raise raise),
    void continue(1: string break),
    oneway void del(1: i32 nonlocal),
    i32 close(),
}
