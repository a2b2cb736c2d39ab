import sys

from reasonvos.cli import main

sys.exit(main())
