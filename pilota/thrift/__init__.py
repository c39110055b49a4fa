"""The Thrift front-end: grammar-driven parser (text → AST) and lowering (AST → IR)."""
