"""Health check of a DocuMind worker container: exit 0 if the liveness file that the worker
touches every 10 s (documind.middleware.Liveness, DOCUMIND_LIVENESS_FILE) is younger than
MAX_AGE seconds (first argument, default 60), else exit 1 with the reason on stderr.

Workers have no HTTP server, so Docker's HEALTHCHECK and a Kubernetes exec probe run this."""

import os
import sys
import time


def main() -> int:
    max_age = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    path = os.environ.get("DOCUMIND_LIVENESS_FILE")
    if not path:
        print("DOCUMIND_LIVENESS_FILE is not set", file=sys.stderr)
        return 1
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        print(f"{path} does not exist (worker not booted, or stopped)", file=sys.stderr)
        return 1
    if age >= max_age:
        print(f"{path} is {age:.0f} s old (limit {max_age:.0f} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
