"""The exec resource type: `spec` (pure) and `type` (reads and changes the machine)."""
