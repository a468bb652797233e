import sys

from lakehouse.generator.cli import main

sys.exit(main())
