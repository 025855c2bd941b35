"""Resource types, one folder each: `spec.py` (pure: parameters, checks, automatic edges) and
the type itself in the folder's `__init__.py` (read, diff, apply)."""
