"""Health check of a DocuMind container: GET http://127.0.0.1:$DOCUMIND_HEALTH_PORT/<path>
(``livez`` by default, or ``readyz``) and exit 0 on HTTP 200, else 1 with the reason on stderr.

Docker's HEALTHCHECK runs this (Kubernetes probes the same endpoints with httpGet). Standard
library only: it starts in well under a second, whatever the image holds."""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "livez"
    port = os.environ.get("DOCUMIND_HEALTH_PORT", "8080")
    if port in ("", "0"):
        print("DOCUMIND_HEALTH_PORT is 0: the health server is disabled", file=sys.stderr)
        return 1
    url = f"http://127.0.0.1:{port}/{path.lstrip('/')}"
    try:
        with urllib.request.urlopen(url, timeout=4) as resp:  # noqa: S310 (fixed loopback URL)
            if resp.status == 200:
                return 0
            print(f"{url}: HTTP {resp.status}", file=sys.stderr)
    except urllib.error.HTTPError as exc:
        print(f"{url}: HTTP {exc.code} {exc.read(500).decode(errors='replace')}", file=sys.stderr)
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
