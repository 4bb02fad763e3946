"""Helpers of .ci/schemathesis (run with the venv's python; standard library only).

  precheck DOC BASE EXCLUDED...  refuse a document that points outside itself; check the exclusions
  role ROLE DIR RC               summarise one role's run from DIR/events.ndjson into DIR/summary.json
  total DIR ROLE...              the table over every role; exit 1 when anything failed
"""

import base64
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

MAX_SHOWN = 600  # characters of a body shown in an example


def walk(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def precheck(doc_path, base, excluded):
    doc = json.loads(Path(doc_path).read_text(encoding="utf-8"))
    outside = []
    for where, key, value in walk(doc):
        if key in ("$ref", "operationRef", "$dynamicRef") and isinstance(value, str):
            if value.startswith("#"):
                continue
            if value.startswith(("http://", "https://", "//")) and not value.startswith(base + "/"):
                outside.append(f"{where}/{key} = {value}")
            elif not value.startswith(("http://", "https://", "//")):
                # A relative reference resolves against the document's own loopback URL.
                continue
    if outside:
        print("The document refers to places outside itself; refusing to run (loopback only):")
        for item in outside:
            print(f"  {item}")
        return 1
    servers = [s.get("url") for s in doc.get("servers", []) if isinstance(s, dict)]
    if servers:
        print(f"The document names servers {servers}; ignored, every request goes to {base}.")
    operations = {
        f"{method.upper()} {path}"
        for path, item in doc.get("paths", {}).items()
        if isinstance(item, dict)
        for method in item
        if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    }
    print(f"Operations in the document: {len(operations)}")
    for name in excluded:
        if name not in operations:
            print(f"Note: the excluded {name} is not in the document (nothing to exclude).")
    return 0


def decode(content):
    if content is None:
        return ""
    if isinstance(content, dict) and "$base64" in content:
        raw = base64.b64decode(content["$base64"])
    elif isinstance(content, dict) and "string" in content:
        raw = content["string"].encode("utf-8")
    else:
        raw = str(content).encode("utf-8")
    text = raw.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"... ({len(text)} characters)"


def example(interaction, case):
    request = interaction.get("request", {})
    response = interaction.get("response") or {}
    headers = {
        k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
        for k, v in (request.get("headers") or {}).items()
        if k.lower() not in ("user-agent", "accept-encoding", "accept", "connection", "content-length")
        and not k.lower().startswith("x-schemathesis")
    }
    resp_headers = response.get("headers") or {}
    ctype = resp_headers.get("content-type") or resp_headers.get("Content-Type") or [""]
    phase = ((case.get("meta") or {}).get("phase") or {})
    data = phase.get("data") or {}
    return {
        "request": {
            "method": request.get("method"),
            "uri": request.get("uri"),
            "headers": headers,
            "body": decode(request.get("body")),
        },
        "response": {
            "status": response.get("status_code"),
            "content_type": ctype[0] if isinstance(ctype, list) else ctype,
            "body": decode(response.get("content")),
        },
        "phase": phase.get("name"),
        "mode": ((case.get("meta") or {}).get("generation") or {}).get("mode"),
        "scenario": data.get("description") or data.get("scenario"),
    }


def answer(ex):
    """The status with the error code (and field) of a JSON error body: how the server answered."""
    status = ex["response"]["status"]
    try:
        body = json.loads(ex["response"]["body"])
    except ValueError:
        return f"{status} {ex['response']['content_type']}"
    if isinstance(body, dict) and "code" in body:
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        field = details.get("field")
        return f"{status} {body['code']}" + (f" ({field})" if isinstance(field, str) and field.isidentifier() else "")
    return f"{status} {ex['response']['content_type']}"


def size(ex):
    return len(ex["request"]["uri"] or "") + len(ex["request"]["body"]) + len(ex["response"]["body"])


def role(name, directory, rc):
    directory = Path(directory)
    events = directory / "events.ndjson"
    tested, selected, total_ops = set(), None, None
    cases = 0
    failures = defaultdict(
        lambda: {"count": 0, "statuses": set(), "messages": set(), "answers": Counter(), "example": None}
    )
    errors = defaultdict(set)
    stop_reason = None
    if events.exists():
        for line in events.open(encoding="utf-8"):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a run cut off mid-line
            kind, body = next(iter(event.items()))
            if kind == "LoadingFinished":
                ops = body.get("statistic", {}).get("operations", {})
                selected, total_ops = ops.get("selected"), ops.get("total")
            elif kind == "NonFatalError":
                value = body.get("value", {})
                errors[body.get("label") or "-"].add(
                    f"{value.get('type')}: {value.get('message', '').splitlines()[0] if value.get('message') else ''}"
                )
            elif kind == "EngineFinished":
                stop_reason = body.get("stop_reason")
            elif kind == "ScenarioFinished":
                recorder = body.get("recorder") or {}
                label = recorder.get("label")
                if body.get("status") != "skip" and label:
                    tested.add(label)
                recorded = recorder.get("cases") or {}
                interactions = recorder.get("interactions") or {}
                cases += len(interactions)
                for case_id, checks in (recorder.get("checks") or {}).items():
                    for check in checks:
                        if check.get("status") != "failure":
                            continue
                        info = (check.get("failure_info") or {}).get("failure") or {}
                        operation = info.get("operation") or label
                        entry = failures[(check.get("name"), operation)]
                        entry["count"] += 1
                        # The first line says what failed; an "Invalid component" line says where.
                        lines = [line.strip() for line in (info.get("message") or "").splitlines()]
                        kept = lines[:1] + [line for line in lines[1:] if line.startswith("Invalid component")]
                        entry["messages"].add(f"{info.get('code', '')} {info.get('title', '')}: " + " | ".join(kept))
                        interaction = interactions.get(case_id)
                        if interaction:
                            ex = example(interaction, (recorded.get(case_id) or {}).get("value") or {})
                            entry["statuses"].add(ex["response"]["status"])
                            entry["answers"][answer(ex)] += 1
                            if entry["example"] is None or size(ex) < size(entry["example"]):
                                entry["example"] = ex
    timed_out = rc in (124, 137)
    summary = {
        "role": name,
        "exit_code": rc,
        "timed_out": timed_out,
        "stop_reason": stop_reason,
        "operations": {"total": total_ops, "selected": selected, "tested": len(tested)},
        "test_cases": cases,
        "failures": [
            {
                "check": check,
                "operation": operation,
                "failing_cases": v["count"],
                "statuses": sorted(s for s in v["statuses"] if s is not None),
                "messages": sorted(v["messages"]),
                "answers": dict(v["answers"].most_common()),
                "example": v["example"],
            }
            for (check, operation), v in sorted(failures.items())
        ],
        "errors": [{"operation": op, "errors": sorted(msgs)} for op, msgs in sorted(errors.items())],
    }
    (directory / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")

    by_check = defaultdict(list)
    for item in summary["failures"]:
        by_check[item["check"]].append(item["operation"])
    print(f"---- summary: {name} ----")
    ops = summary["operations"]
    print(f"operations: {ops['tested']} tested of {ops['selected']} selected ({ops['total']} in the document); "
          f"{cases} requests; schemathesis exit code {rc}{' (TIMED OUT)' if timed_out else ''}")
    if not events.exists():
        print("no events recorded: schemathesis did not start (see its output above)")
    if by_check:
        print("failures by check (operations):")
        for check, operations in sorted(by_check.items()):
            print(f"  {check}: {len(operations)}")
            for operation in operations:
                print(f"      {operation}")
    else:
        print("failures by check: none")
    if summary["errors"]:
        print("errors (operations that could not be tested):")
        for item in summary["errors"]:
            for message in item["errors"]:
                print(f"  {item['operation']}: {message}")
    return 0


def total(directory, roles):
    directory = Path(directory)
    failed = False
    print("==== API contract check: all roles ====")
    print(f"{'role':<10} {'tested':>6} {'requests':>8} {'failing':>7} {'errors':>6}  result")
    checks_total = defaultdict(set)
    for name in roles:
        path = directory / name / "summary.json"
        if not path.exists():
            print(f"{name:<10} {'-':>6} {'-':>8} {'-':>7} {'-':>6}  NOT RUN")
            failed = True
            continue
        s = json.loads(path.read_text(encoding="utf-8"))
        for item in s["failures"]:
            checks_total[item["check"]].add((name, item["operation"]))
        bad = bool(s["failures"] or s["errors"] or s["timed_out"] or s["exit_code"] != 0)
        failed |= bad
        result = "TIMED OUT" if s["timed_out"] else ("FAILED" if bad else "passed")
        print(f"{name:<10} {s['operations']['tested']:>6} {s['test_cases']:>8} {len(s['failures']):>7} "
              f"{len(s['errors']):>6}  {result}")
    if checks_total:
        print("failing (role, operation) pairs by check:")
        for check, pairs in sorted(checks_total.items()):
            print(f"  {check}: {len(pairs)}")
    return 1 if failed else 0


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "precheck":
        return precheck(args[0], args[1], args[2:])
    if command == "role":
        return role(args[0], args[1], int(args[2]))
    if command == "total":
        return total(args[0], args[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
