"""`python -m gpu_backend serve` (the Dockerfile's ENTRYPOINT + CMD)."""

import sys

from gpu_backend.cli import main

if __name__ == "__main__":
    sys.exit(main())
