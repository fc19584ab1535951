import sys

from fastcore.cli import main

sys.exit(main())
