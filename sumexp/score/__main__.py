"""`python -m sumexp.score PRED REF [options]`: see sumexp.score.cli."""

import sys

from sumexp.score.cli import main

sys.exit(main())
