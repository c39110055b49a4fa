struct Key { 1: i32 id }
struct Containers {
    1: list<list<i32>> matrix,
    2: set<list<string>> paths,
    3: map<set<i32>, string> by_set,
    4: map<map<string, i32>, bool> by_map,
    5: map<Key, list<Key>> by_struct,
    6: list<map<string, set<binary>>> nested,
    7: set<Key> keys,
}
