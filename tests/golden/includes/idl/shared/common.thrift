namespace py app.common
typedef i64 Id
enum Status { ACTIVE = 1, GONE = 2 }
struct Tag { 1: string name }
const Id ZERO = 0
service Base { string ping() }
