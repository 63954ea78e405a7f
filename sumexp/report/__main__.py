"""`python -m sumexp.report DIR [DIR ...]`: see sumexp.report.cli."""

import sys

from sumexp.report.cli import main

sys.exit(main())
