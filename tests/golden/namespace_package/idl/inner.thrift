namespace py company.inner.deep
struct Inner { 1: i32 value }
