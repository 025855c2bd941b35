"""What resource types share: the base of their parameters (schema.py), text and path checks,
safe file writes (safepath, fsat, fsutil), account files, text-file edits. The types
themselves are folders of gitpuppet/types/."""
