"""The resource contract now lives in gitpuppet.contract; this name stays for older imports."""

from gitpuppet.contract import ApplyContext, RefreshNotNeeded, ResourceType

__all__ = ["ApplyContext", "RefreshNotNeeded", "ResourceType"]
