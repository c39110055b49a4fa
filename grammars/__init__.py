"""Thrift and protobuf grammars (Lark), shipped as package data."""
