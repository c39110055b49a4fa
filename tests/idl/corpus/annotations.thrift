/** Annotations wherever Apache's grammar takes them, in every spelling. */
namespace py annotated (package.version = "2")
namespace java org.example.annotated

typedef i32 (cpp.type = "int32_t") Count
typedef list<string> (cpp.template = "std::list") Lines
typedef map<string (cpp.type = "std::string"), i64> (java.final = "true") Totals

enum Mood {
    HAPPY = 1 (display = "happy"),
    SAD = 2 (display = "sad", deprecated),
} (cpp.enum_strict, doc = 'moods')

struct Note {
    1: string text (max_length = "200", trim = "true"),
    2: Count count (cpp.ref = "true"),
    3: optional Lines lines (python.type = "list"),
    4: set<i32 (kind = "id")> ids,
    5: Totals totals,
} (final = "true"; serializable)

union Either {
    1: Note note,
    2: string text,
} (cpp.virtual = "")

exception Oops {
    1: string message (sensitive = "false"),
} (code = "500")

service Notes {
    Note read(1: i64 id (min = "1")) throws (1: Oops oops (retry = "no")) (idempotent = "true"),
    oneway void touch(1: i64 id) (fire_and_forget),
} (version = "1.0", owner = 'team-notes')
