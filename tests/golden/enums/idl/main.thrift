enum Implicit { A, B, C }
enum Mixed { ONE = 1, TWO, TEN = 10, ELEVEN, MINUS = -5, AFTER_MINUS }
enum Hex { MASK = 0xff, TOP = 0x7fffffff }
enum Alias { FIRST = 1, SAME = 1 }
enum Empty {}
struct UsesEnums { 1: Implicit implicit, 2: map<Mixed, list<Hex>> nested, 3: set<Alias> aliases }
