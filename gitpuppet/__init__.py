"""gitpuppet: masterless, git-pull configuration management."""

__version__ = "0.1.0"
