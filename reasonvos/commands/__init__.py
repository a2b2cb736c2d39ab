"""CLI subcommands: one module each, discovered automatically.

A module here defines ``register(subparsers)``, which adds its parser and sets ``func`` to a
function ``(args) -> int``. The modules are thin: they parse arguments and call the API.
"""
