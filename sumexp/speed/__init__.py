"""`python -m sumexp.speed`: backends' training speed, measured in alternation in one process so that the
machine's load falls on each of them alike (cli: the command; alternate: building and timing; summary: the
ratios and their intervals)."""
