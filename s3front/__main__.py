import sys

from s3front.cli import main

sys.exit(main())
