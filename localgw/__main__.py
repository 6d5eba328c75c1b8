from __future__ import annotations

import sys

from localgw.cli import main

sys.exit(main())
