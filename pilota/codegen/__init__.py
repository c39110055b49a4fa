"""Code generation: IR to source."""
