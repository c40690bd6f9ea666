"""``python -m gatepost.cli``: the same command as ``gatepost``."""

import sys

from gatepost.cli import main

sys.exit(main())
