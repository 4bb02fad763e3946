"""A receiving SMTP server for the e-mail transport's tests (aiosmtpd).

Every accepted message is stored as NNN.eml (the raw bytes received after DATA) and NNN.json (what
Python's own e-mail parser makes of it, plus the session: TLS, login, envelope) in --dir. Prints
READY once it listens; runs until killed.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--dir", required=True)
p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--user")
p.add_argument("--password")
p.add_argument("--rcpt-reply", help="answer every RCPT with this reply; {addr} is the address")
p.add_argument("--data-delay-ms", type=int, default=0, help="wait this long before answering DATA")
a = p.parse_args()


def write(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


STARTED = time.time_ns()


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if a.rcpt_reply:
            return a.rcpt_reply.replace("{addr}", address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if a.data_delay_ms:
            await asyncio.sleep(a.data_delay_ms / 1000)
        self.n += 1
        raw = envelope.original_content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append(
                {
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "transfer_encoding": part.get("Content-Transfer-Encoding"),
                    "content": part.get_content(),
                }
            )
        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            # session.ssl is set by STARTTLS only; implicit TLS shows on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "content_type": msg.get_content_type(),
            "message_id": msg.get("Message-ID"),
            "subject": str(msg.get("Subject")),
            "from": str(msg.get("From")),
            "to": str(msg.get("To")),
            "reply_to": None if msg.get("Reply-To") is None else str(msg.get("Reply-To")),
            "date": str(msg.get("Date")),
            "content_language": msg.get("Content-Language"),
            "parts": parts,
            "defects": [repr(d) for d in msg.defects],
        }
        # Named by this server's start and its count, so that a server restarted on the same
        # directory adds to what an earlier one stored (names sort in arrival order).
        base = os.path.join(a.dir, "%020d-%03d" % (STARTED, self.n))
        # The parser's view first: a reader lists the .eml files, and each must find its .json.
        write(base + ".json", json.dumps(info, ensure_ascii=False).encode("utf-8"))
        write(base + ".eml", raw)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == a.user.encode()
        and auth_data.password == a.password.encode()
    )
    return AuthResult(success=ok, handled=False)


kwargs = {}
ssl_context = None
if a.tls != "none":
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    if a.tls == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)
    else:
        ssl_context = ctx
if a.user:
    kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=a.tls != "none")

controller = Controller(
    Handler(), hostname="127.0.0.1", port=a.port, ssl_context=ssl_context, **kwargs
)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
