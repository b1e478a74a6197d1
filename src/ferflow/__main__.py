"""`python -m ferflow`: the same command line as `ferflow`."""

import sys

from ferflow.cli import main

sys.exit(main())
