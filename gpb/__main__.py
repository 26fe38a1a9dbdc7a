import sys

from gpb.cli import main

sys.exit(main())
