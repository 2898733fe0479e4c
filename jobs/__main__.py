"""`python -m jobs`: run the APScheduler jobs process until SIGINT/SIGTERM."""

import sys

from jobs.scheduler import main

sys.exit(main())
