"""Runs Debian's Curator 5.8 (elasticsearch-curator) unchanged, with two
additions for the benchmark (bench/retention/main.go starts it as
`python3 curator_shim.py --config C ACTION`):

1. It records every HTTP request Curator's client sends (method, path,
   status, duration) and Curator's in-process time (from the start of this
   script, imports included, to exit), and writes them as JSON to
   $BENCH_CURATOR_STATS when Curator exits.

2. It lets the client talk to Elasticsearch 7.10.2 as built from Maven
   Central, whose GET / reports "build_flavor": "unknown". Debian pairs
   Curator 5.8 with python3-elasticsearch 7.17, whose product check accepts
   7.0-7.13 only with build_flavor "default", so plain `curator` stops before
   its first real request with "The client noticed that the server is not a
   supported distribution of Elasticsearch" (the same happens with the OSS
   build and AWS Elasticsearch 7.10, which report "oss"). The check's GET /
   is still sent and counted; only the "unsupported distribution" verdict
   for 7.0-7.13 is turned into "supported". Nothing else is changed.
"""

import atexit
import json
import os
import sys
import time

T0 = time.perf_counter()

import elasticsearch.transport as _transport  # noqa: E402
from elasticsearch.connection import RequestsHttpConnection, Urllib3HttpConnection  # noqa: E402

_requests = []


def _counting(cls):
    perform = cls.perform_request

    def counted(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):
        t = time.perf_counter()
        status = 0
        try:
            status, h, data = perform(self, method, url, params, body, timeout=timeout, ignore=ignore, headers=headers)
            return status, h, data
        except Exception as e:  # failed requests count too
            status = getattr(e, "status_code", 0)
            raise
        finally:
            _requests.append({"method": method, "path": url, "status": status if isinstance(status, int) else 0,
                              "ms": (time.perf_counter() - t) * 1000})

    cls.perform_request = counted


# Curator 5.8 connects with RequestsHttpConnection; both are covered.
_counting(RequestsHttpConnection)
_counting(Urllib3HttpConnection)

_checker = _transport._ProductChecker
_check = _checker.check_product


def _check_product(headers, response):
    verdict = _check(headers, response)
    if verdict == _checker.UNSUPPORTED_DISTRIBUTION:
        return True
    return verdict


_checker.check_product = staticmethod(_check_product)


def _write_stats():
    path = os.environ.get("BENCH_CURATOR_STATS")
    if path:
        with open(path, "w") as f:
            json.dump({"in_process_ms": (time.perf_counter() - T0) * 1000, "requests": _requests}, f)


atexit.register(_write_stats)

from curator.cli import cli  # noqa: E402  (the console_scripts entry point of /usr/bin/curator)

if __name__ == "__main__":
    sys.argv[0] = "curator"
    sys.exit(cli())
