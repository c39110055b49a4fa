include "inner.thrift"
namespace py company
struct Outer { 1: inner.Inner inner }
