"""The local platform: PostgreSQL, Redis and an AWS endpoint (moto) as plain local processes.

No Docker and no cloud account: everything runs from Debian packages and PyPI, with state in
one folder, on ports picked at start-up.
"""
