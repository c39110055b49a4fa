struct Item { 1: string name }
exception Missing { 1: string what }
exception Denied { 1: i32 code }
service Base {
    void ping(),
    string version(),
}
service Store extends Base {
    Item get(1: string name) throws (1: Missing missing, 2: Denied denied),
    list<Item> find(1: string prefix, 2: i32 limit = 10, 3: bool exact),
    oneway void touch(1: string name),
    map<string, Item> all(),
}
service Empty {}
