import sys

from tools.mutants import main

sys.exit(main())
