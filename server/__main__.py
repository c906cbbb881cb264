"""`python -m server` is `aipep-server`."""

import sys

from server.cli import main

sys.exit(main())
