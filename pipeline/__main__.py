"""``python -m pipeline``: see ``pipeline.main``."""

import sys

from pipeline.main import main

sys.exit(main())
