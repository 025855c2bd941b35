"""`mount`: an fstab entry and whether the file system is mounted now."""
