import sys

from repo_driver.demo.command import main

sys.exit(main())
