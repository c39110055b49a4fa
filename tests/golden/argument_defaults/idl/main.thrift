// An argument that does not arrive decodes to its type's zero value (a struct's
// to None), so each is typed as the handler will receive it.
namespace py args

enum Level { OFF = 0, LOW = 1 }
enum Shade { DARK = 1, LIGHT = 2 }  // no member for 0
enum Nothing {}  // no member at all: no zero value either
typedef list<string> Names
struct Point { 1: i32 x }
union Shape { 1: Point point }

service Plotter {
    void zeros(1: bool b, 2: byte i8, 3: i16 i16, 4: i64 i64, 5: double d, 6: string s,
               7: binary bin, 8: uuid id),
    void containers(1: list<i32> ints, 2: set<string> tags, 3: map<string, Point> points,
                    4: Names names),
    void enums(1: Level level, 2: Shade shade, 3: Nothing nothing),
    void structs(1: Point point, 2: Shape shape, 3: required Point required_point),
    void after_a_default(1: i32 scale = 2, 2: i32 offset, 3: list<i32> ids, 4: Point at),
}
