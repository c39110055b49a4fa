/** Types that contain themselves, directly or through others, by value or `&` reference. */
namespace py recursion

struct TreeNode {
    1: string name,
    2: list<TreeNode> children,
    3: optional TreeNode & parent,
}

struct Ping {
    1: optional Pong & reply,
}

struct Pong {
    1: optional Ping & reply,
}

union Expr {
    1: i64 number,
    2: list<Expr> sum,
    3: map<string, Expr> bindings,
    4: Call call,
}

struct Call {
    1: string function,
    2: list<Expr> arguments,
}

exception Chain {
    1: string message,
    2: optional Chain & cause,
}

struct Graph {
    1: map<i32, set<i32>> edges,
    2: list<TreeNode> forest,
}

service Evaluate {
    i64 eval(1: Expr expr) throws (1: Chain failure),
}
