enum Level { LOW, HIGH }
struct Limit { 1: i32 value, 2: optional string unit }
const i32 ANSWER = 42
const i64 NEGATIVE_HEX = -0x1F
const double PI = 3.14159
const double HUGE = 1e400
const bool ENABLED = true
const string GREETING = "hello"
const binary MAGIC = "\t"
const uuid ID = "{00112233-4455-6677-8899-aabbccddeeff}"
const Level LEVEL = Level.HIGH
const list<string> NAMES = ["a", "b"]
const list<i32> ONE = [1]
const set<i32> PRIMES = [2, 3, 5]
const map<string, Limit> LIMITS = {"cpu": {"value": 4, "unit": "cores"}, "mem": {"value": 8}}
const Limit DEFAULT_LIMIT = {"value": 1}
const map<Level, list<i32>> BY_LEVEL = {Level.LOW: [1], Level.HIGH: []}
const i32 COPIED = ANSWER
