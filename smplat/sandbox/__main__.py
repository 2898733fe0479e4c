"""`python -m smplat.sandbox [name ...]`: run the local sandboxes until SIGINT/SIGTERM."""

import sys

from smplat.sandbox.runner import main

sys.exit(main(sys.argv[1:]))
