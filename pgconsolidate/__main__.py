"""Allow ``python -m pgconsolidate``."""

from pgconsolidate.cli import main

main()
