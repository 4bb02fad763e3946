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
4. Warden's own string formats (http-url, scan-url, host, target, the identifier kinds, the X-ARF fields):
   a strategy for each, so that schema-valid requests carry values of that grammar.
6. message/rfc822 bodies (POST /api/reports/mail): a string sent as its bytes.
5. One AST parse at a time, around a CPython 3.11 race between schemathesis' worker threads.
"""

import ast
import json
import os
import threading
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

# CPython 3.11 races when two threads build ASTs at once ("SystemError: AST constructor recursion
# depth mismatch"); Hypothesis parses source files to describe lambdas, from schemathesis' worker
# threads. One parse at a time.
_ast_lock = threading.Lock()
_ast_parse = ast.parse


def _parse_one_at_a_time(*args, **kwargs):
    with _ast_lock:
        return _ast_parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")


@schemathesis.serializer("message/rfc822")
def rfc822(ctx, value):
    # A raw e-mail (POST /api/reports/mail): a string as its UTF-8 bytes; anything else (the
    # negative phase's numbers and objects) as JSON text, which is no message either.
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.encode("utf-8")


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


# 4. The document's own string formats (OpenAPI formats are open-ended): what each accepts is said
#    in its fields' descriptions and docs/api.md; these strategies draw values of that grammar, so
#    schema-valid requests carry targets Warden can read. Data addresses are documentation
#    prefixes (RFC 5737, RFC 3849) and names end in .example or .test, never anything reachable.
from hypothesis import strategies as st  # noqa: E402

_label = st.from_regex(r"\A[a-z](?:[a-z0-9-]{0,14}[a-z0-9])?\Z")
_domain = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3),
    st.sampled_from(["example", "test", "example.com", "example.net"]),
)
_ipv4 = st.builds(
    lambda prefix, last: f"{prefix}.{last}",
    st.sampled_from(["192.0.2", "198.51.100", "203.0.113"]),
    st.integers(min_value=1, max_value=254),
)
_ipv6 = st.builds(lambda n: f"2001:db8::{n:x}", st.integers(min_value=1, max_value=0xFFFF))
_ip = st.one_of(_ipv4, _ipv6)
_host = st.one_of(_domain, _ipv4, _ipv6.map(lambda a: f"[{a}]"))
_path = st.from_regex(r"\A(?:/[A-Za-z0-9._~-]{0,12}){0,4}(?:\?[a-z]{1,8}=[A-Za-z0-9]{0,8})?\Z")
_url = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    _host,
    st.sampled_from(["", ":8080", ":443"]),
    _path,
)
# What POST /api/scan fetches: a public URL. Documentation addresses are refused by the
# scanner (422, DET-2), so only names: .example and .test never resolve (RFC 2606, and in the
# check's namespace nothing does), which gives the documented 502 fetch_failed.
_scan_url = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(_label, min_size=1, max_size=3),
        st.sampled_from(["example", "test"]),
    ),
    st.sampled_from(["", ":8080", ":443"]),
    _path,
)
_cidr4 = st.builds(lambda ip, bits: f"{ip}/{bits}", _ipv4.map(lambda a: a.rsplit(".", 1)[0] + ".0"), st.sampled_from([24, 28, 32]))
_service_id = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,30}\Z")

FORMATS = {
    "http-url": _url,
    "scan-url": _scan_url,
    "host": st.one_of(_domain, _ipv4),
    "authority": st.builds(lambda h, p: f"{h}{p}", _host, st.sampled_from(["", ":8080"])),
    "ip-address": _ip,
    "target": st.one_of(_url, _domain, _ip),
    "domain": _domain,
    "url-prefix": st.builds(lambda d, p: f"{d}{p}", _domain, st.from_regex(r"\A(?:/[a-z0-9]{1,8}){0,2}\Z")),
    "public-ip-or-cidr": st.one_of(_ipv4, _ipv6, _cidr4),
    "ip-or-cidr": st.one_of(_ipv4, _cidr4, st.sampled_from(["10.0.0.5", "172.16.0.0/12", "192.168.1.7"])),
    "bucket-key": st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}(?:/[A-Za-z0-9._-]{1,12}){0,2}\Z"),
    "service-id": _service_id,
}
# A dot-atom local part: never two dots in a row ("a..b@" is no address, RFC 5322).
_email = st.builds(lambda local, domain: f"{local}@{domain}", st.from_regex(r"\A[a-z0-9]{1,4}(?:[._-][a-z0-9]{1,4}){0,2}\Z"), _domain)
_date_time = st.builds(
    lambda y, mo, d, h, mi, s, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{off}",
    st.integers(2000, 2030), st.integers(1, 12), st.integers(1, 28),
    st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
    st.sampled_from(["Z", "+08:00", "-05:30", ".5Z", ".123+01:00"]),
)
FORMATS.update({
    # X-ARF v3 fields (POST /api/reports/xarf).
    "xarf-uri": _url,
    "xarf-email": _email,
    "xarf-hostname": _domain,
    "xarf-date-time": _date_time,
    "xarf-account-id": st.from_regex(r"\A[A-Za-z0-9_.-]{1,20}\Z"),
    "base64": st.binary(max_size=24).map(lambda b: __import__("base64").b64encode(b).decode()),
    "cvss2-vector": st.sampled_from(["AV:N/AC:L/Au:N/C:P/I:P/A:P", "AV:L/AC:H/Au:S/C:N/I:N/A:C"]),
    "cvss3-vector": st.sampled_from([
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.0/AV:L/AC:H/PR:L/UI:R/S:C/C:L/I:N/A:N",
    ]),
})
for _name, _strategy in FORMATS.items():
    schemathesis.openapi.format(_name, _strategy)
