"""External modules of the control repo (SPEC §9): the fetch cache (cache.py) and the source
tree assembled from them (site.py). Above the compiler and git: it joins the two."""

from gitpuppet.modules.cache import APPLIED_FILE, ModuleCache, Resolved
from gitpuppet.modules.site import (
    cache_for,
    for_applied,
    for_directory,
    record_applied,
    recorded_for,
    user_cache_root,
    with_modules,
)

__all__ = [
    "APPLIED_FILE",
    "ModuleCache",
    "Resolved",
    "cache_for",
    "for_applied",
    "for_directory",
    "record_applied",
    "recorded_for",
    "user_cache_root",
    "with_modules",
]
