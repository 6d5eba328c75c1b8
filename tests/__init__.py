from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository's root, for tests that run its commands or read its files."""
