"""The ``aedr`` command line (typer). Thin: parse, call the library, print."""

from aedr.cli.app import app, main

__all__ = ["app", "main"]
