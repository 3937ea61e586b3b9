"""`python -m interactiveseg ...` is the `interactiveseg` command (Slicer starts the worker this way)."""
import sys

from .cli import main

sys.exit(main())
