"""Schemathesis hooks for the API contract check (.ci/schemathesis loads them via SCHEMATHESIS_HOOKS).

1. Loopback only. Every request schemathesis sends (the document, any $ref it would resolve, every
   test case) must go to the Warden under test, WARDEN_SCHEMATHESIS_BASE (http://127.0.0.1:PORT);
   anything else is refused before a connection is made. The run also happens in a network
   namespace that has nothing but loopback, so this is the second fence, with a clear message.
2. application/x-ndjson bodies (POST /api/resources/import): one JSON value per line. An array
   becomes one line per item, anything else a single line. Without this serializer schemathesis
   cannot send the operation at all ("Serialization not possible").
3. The change feed's long poll (GET /api/enforcement/changes?wait_ms=, the server waits up to 30 s)
   is capped at 1 s, so one valid request cannot spend a role's time budget or hit the request
   timeout. Only a valid integer above the cap is lowered (to another valid value); invalid
   values are sent as generated.
"""

import json
import os
from urllib.parse import urlsplit

import requests
import schemathesis

BASE = os.environ.get("WARDEN_SCHEMATHESIS_BASE", "")
_BASE_PARTS = urlsplit(BASE)
if _BASE_PARTS.hostname != "127.0.0.1" or _BASE_PARTS.scheme != "http":
    raise RuntimeError(f"WARDEN_SCHEMATHESIS_BASE must be http://127.0.0.1:PORT, not {BASE!r}")

_send = requests.Session.send


def _loopback_only(self, request, **kwargs):
    target = urlsplit(request.url)
    if (target.scheme, target.hostname, target.port) != (
        _BASE_PARTS.scheme,
        _BASE_PARTS.hostname,
        _BASE_PARTS.port,
    ):
        raise requests.exceptions.ConnectionError(
            f"refused by .ci/schemathesis-hooks.py: {request.url} is not the Warden under test ({BASE})"
        )
    return _send(self, request, **kwargs)


requests.Session.send = _loopback_only


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")


LONG_POLL_CAP_MS = 1000


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() != "GET" or case.path != "/api/enforcement/changes":
        return
    query = case.query
    if isinstance(query, dict):
        wait = query.get("wait_ms")
        if isinstance(wait, int) and not isinstance(wait, bool) and wait > LONG_POLL_CAP_MS:
            query["wait_ms"] = LONG_POLL_CAP_MS
