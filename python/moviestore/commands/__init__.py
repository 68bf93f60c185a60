"""One module per ``moviestore`` subcommand; each has ``register(subparsers)``."""
