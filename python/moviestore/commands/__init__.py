"""One module per ``moviestore`` subcommand, imported only when that command runs.

Each has ``configure(parser)``: it sets the command's description and options and
``run(args) -> int`` as the parser's ``run`` default.
"""

# Exit statuses every command shares (each documents its own 0 and 1).
EXIT_USAGE = 2
# 128 + SIGINT, as a shell reports a command that Ctrl-C ended.
EXIT_INTERRUPTED = 130
