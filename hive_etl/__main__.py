"""`python -m hive_etl` runs the command line, for machines where the console script is not on PATH."""

from .cli import main

main(prog_name="hive-etl")
