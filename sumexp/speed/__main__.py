"""`python -m sumexp.speed model=NAME backend=full,lora,qlora [overrides] [--rounds N ...]`: see sumexp.speed.cli."""

import sys

from sumexp.speed.cli import main

sys.exit(main())
