"""``python -m sparkprobe.submit [options] -- spark-submit ARGS...``."""

import sys

from sparkprobe.submit.cli import main

sys.exit(main())
