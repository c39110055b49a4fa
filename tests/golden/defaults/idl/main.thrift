enum Color { RED = 1, GREEN = 2 }
struct Point { 1: i32 x = 0, 2: i32 y = 0 }
struct Defaults {
    1: bool flag = true,
    2: i8 tiny = -1,
    3: i16 small = 0x7fff,
    4: i32 medium = 42,
    5: i64 large = 9223372036854775807,
    6: double ratio = 0.5,
    7: double whole = 3,
    8: string name = "unnamed",
    9: binary blob = "raw",
    10: Color color = Color.GREEN,
    11: list<i32> numbers = [1, 2, 3],
    12: set<string> tags = ["a", "b"],
    13: map<string, i32> counts = {"x": 1},
    14: Point origin = {"x": 0, "y": 0},
    15: optional i32 maybe = 7,
    16: required string must,
    17: required i32 must_with_default = 5,
    18: i32 plain,
}
