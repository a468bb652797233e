import sys

from simulator.generator.cli import main

sys.exit(main())
