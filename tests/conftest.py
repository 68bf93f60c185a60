"""Shared by every test suite. Keep it small: suite-specific setup lives next to the suite."""
