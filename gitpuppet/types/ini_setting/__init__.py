"""`ini_setting`: one key of an INI-style file (`php memory` -> memory_limit in [PHP]).."""
