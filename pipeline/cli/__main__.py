"""`python -m pipeline.cli …` runs the `shuzhi` command."""

from pipeline.cli import main

main()
