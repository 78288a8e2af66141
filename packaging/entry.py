"""The frozen app's entry point: the same as the `steerdesk` console script."""

import multiprocessing
import sys

from steerdesk.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
