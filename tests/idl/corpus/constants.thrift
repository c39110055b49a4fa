/** Constants of every kind a published IDL writes, and values they must evaluate to. */
namespace py consts

enum Planet { MERCURY = 1, VENUS, EARTH, MARS }

struct Point {
    1: double x,
    2: double y,
    3: optional string label,
}

struct Shape {
    1: string name,
    2: list<Point> corners,
    3: map<string, Point> named = {},
}

const bool ON = true
const bool OFF = 0
const i8 SMALLEST = -128
const i16 PORT = 8080
const i32 MASK = 0x7fffffff
const i32 NEGATIVE = -16
const i64 BIGGEST = 9223372036854775807
const i64 LOWEST = -9223372036854775808
const double PI = 3.14159
const double AVOGADRO = 6.02214076e23
const double PLANCK = 6.62607015E-34
const double HALF = .5
const double MINUS_HALF = -0.5
const double WHOLE = 42  // an integer where a double is expected
const double ZERO = -0.0
const string GREETING = "hello, \"world\"\n"
const string SINGLE = 'it\'s "quoted"'
const string TABBED = "a\tb\\c"
const string UNICODE = "café ✓"
const binary MAGIC = "magic"
const Planet HOME = Planet.EARTH
const Planet ALSO_HOME = 3
const list<i32> PRIMES = [2, 3, 5, 7, 11]
const list<string> EMPTY_LIST = []
const set<string> COLOURS = ["red", "green"]
const map<string, i32> LIMITS = {"soft": 10, "hard": 20}
const map<i32, list<string>> NESTED = {1: ["a"], 2: ["b", "c"]}
const map<Planet, string> PLANET_NAMES = {Planet.MERCURY: "Mercury", Planet.MARS: "Mars"}
const list<map<string, set<i16>>> DEEP = [{"x": [1, 2]}, {}]
const i32 ALIAS = MASK  // a constant naming another
const list<i32> FROM_CONSTANTS = [MASK, NEGATIVE, PORT]
const Point ORIGIN = {"x": 0, "y": 0.0}
const Shape SQUARE = {
    "name": "square",
    "corners": [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}, {"x": 0, "y": 1}],
    "named": {"start": {"x": 0, "y": 0, "label": "start"}},
}
const list<Point> PATH = [{"x": 0, "y": 0}, {"x": 2.5, "y": -1e-3}]
