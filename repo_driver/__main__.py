import sys

from repo_driver.cli import main

sys.exit(main())
