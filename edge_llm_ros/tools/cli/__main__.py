"""`python -m edge_llm_ros.tools.cli VERB ...`: the edge-llm-ros command without its script."""

import sys

from edge_llm_ros.tools.cli import main

sys.exit(main())
