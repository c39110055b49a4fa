struct class {
    1: string from,
    2: i32 self,
    3: bool import,
    4: string to_bytes,
    5: string from_bytes,
    6: string __private,
    7: string None,
    8: string type,
}
union choice { 1: i32 kind, 2: string value, 3: i32 lambda }
enum yield { name, value, pass, mro }
exception raise { 1: string args, 2: string message }
service def {
    void async(1: i32 await, 2: class self)
    class global(1: string nonlocal)
}
const i32 _p = 1
const string annotations = "x"
