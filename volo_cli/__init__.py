"""The volo command-line interface."""
