/** Spellings Apache's compiler still accepts, with a warning or silently, from older IDL. */
cpp_include "<vector>"
cpp_include '<string>'
namespace cpp legacy
namespace py legacy
namespace py.twisted legacy.twisted

struct Node xsd_all {
    1: i32 id xsd_optional xsd_nillable,
    2: byte flags,
    3: list<i32> cpp_type "std::vector<int32_t>" values,
    4: map cpp_type "std::map<std::string, int>" <string, i32> index,
    5: set cpp_type "std::set<int>" <i32> members,
    6: optional Node & next,
    7: string label xsd_attrs { 1: string lang },
}

service Old {
    async void fire(1: Node node),
    Node get(1: i32 id);
}
