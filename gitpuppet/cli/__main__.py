"""`python -m gitpuppet.cli`."""

import sys

from gitpuppet.cli import main

sys.exit(main())
