struct Node {
    1: i32 value,
    2: optional Node next,
    3: list<Node> children,
}
struct Tree { 1: Branch root }
struct Branch { 1: map<string, Branch> branches, 2: optional Tree subtree }
typedef Node Head
