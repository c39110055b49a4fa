"""Jinja templates for generated code and project scaffolds."""
