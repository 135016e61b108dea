"""The Python equivalent of an essnap function, for the init-time benchmark only.

What a Python version of essnap would load at init: boto3/botocore (default
credential chain and SigV4) and the v7 Elasticsearch client, with a
connection class that signs every request. Like the Go bootstrap, nothing is
resolved or connected at init: the session, credentials and clients are made
on first use and then cached per domain.

Run as `python -m awslambdaric handler.handler` under aws-lambda-rie
(bench/init/run.sh).
"""

import os

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from elasticsearch import Elasticsearch, Urllib3HttpConnection

_session = None
_clients = {}


class SignedConnection(Urllib3HttpConnection):
    """Signs each request with SigV4 (service es) from the default chain."""

    def __init__(self, *args, region=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._region = region

    def perform_request(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):
        creds = _get_session().get_credentials().get_frozen_credentials()
        req = AWSRequest(method=method, url=self.host + url, params=params, data=body, headers=headers or {})
        SigV4Auth(creds, "es", self._region).add_auth(req)
        return super().perform_request(method, url, params, body, timeout, ignore, dict(req.headers.items()))


def _get_session():
    global _session
    if _session is None:
        _session = boto3.Session()  # credentials are cached by botocore
    return _session


def _client(endpoint, region):
    key = (endpoint, region)
    if key not in _clients:
        _clients[key] = Elasticsearch([endpoint], connection_class=SignedConnection, region=region)
    return _clients[key]


def handler(event, context):
    endpoint = event.get("endpoint") or os.environ.get("ESSNAP_ENDPOINT")
    if not endpoint:
        return {"essnap_bench": "init", "connected": False}
    return _client(endpoint, event.get("region") or os.environ.get("AWS_REGION")).info()
