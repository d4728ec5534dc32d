"""`python -m ecomcharge_async` runs the `ecomcharge` command line."""

import sys

from .cli import main

sys.exit(main())
