"""`python -m prognos`: the same as the `prognos` command."""

from prognos.cli import main

main()
