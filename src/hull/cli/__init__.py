"""Command-line shells. Each parses, calls the library, maps errors to exit codes.

Nothing in hull imports this package.
"""
