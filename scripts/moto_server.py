"""The AWS-API emulator for the tests: moto's server, serving one request at a time.

`python -m moto.server` serves requests on threads, and its DynamoDB backend does not
lock between checking a condition and writing, so two racing conditional transactions can
both succeed — which real DynamoDB never allows. The store's conformance suite races
writers on purpose, so the emulator must be atomic per request, as DynamoDB and Kinesis
are: one request at a time.

Usage: python3 scripts/moto_server.py PORT
"""

import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, app, threaded=False, use_reloader=False)


if __name__ == "__main__":
    main()
