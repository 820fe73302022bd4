"""A tiny SMTP server for the end-to-end tests (aiosmtpd).

    python3 tests/smtp/server.py PORT DIR [--starttls CERT KEY | --implicit-tls CERT KEY]
                                          [--auth USER:PASS]

Accepts every message on 127.0.0.1:PORT and writes each, parsed, to DIR as
one JSON file (written under a temporary name, then renamed):
{"mail_from", "rcpt_tos", "from", "to", "subject", "text", "html",
"auth_login"}, the text and HTML parts decoded; "auth_login" is the user the
client authenticated as (null without AUTH). Prints "ready" once it listens.

Without options: plain SMTP, no AUTH (the default). Options:
  --starttls CERT KEY      offers STARTTLS with that certificate (PEM) and
                           requires it before any mail command;
  --implicit-tls CERT KEY  TLS from the first byte (SMTPS) with that
                           certificate (PEM);
  --auth USER:PASS         requires AUTH (PLAIN or LOGIN) and accepts only
                           that pair; with --starttls, only after STARTTLS
                           (with --implicit-tls the whole connection is TLS).
"""

import argparse
import asyncio
import email
import json
import os
import ssl
import time
from email import policy

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "auth_login": login,
        }
        self.count += 1
        name = f"{time.time_ns()}-{self.count}.json"
        tmp = os.path.join(self.folder, "." + name)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, name))
        return "250 Message accepted for delivery"


def authenticator_for(user, password):
    """Accepts only USER:PASS; every other pair fails (535)."""

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=False, handled=False)

    return authenticator


def server_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def main(args):
    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir)
    options = {}
    listen_ssl = None
    if args.starttls:
        options["tls_context"] = server_context(*args.starttls)
        options["require_starttls"] = True
    if args.implicit_tls:
        listen_ssl = server_context(*args.implicit_tls)
    if args.auth:
        user, _, password = args.auth.partition(":")
        options["authenticator"] = authenticator_for(user, password)
        options["auth_required"] = True
        # aiosmtpd only counts STARTTLS as TLS; on an SMTPS listener every
        # byte is already encrypted, so AUTH is allowed from the start.
        options["auth_require_tls"] = listen_ssl is None
    else:
        options["auth_require_tls"] = True
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **options), "127.0.0.1", args.port, ssl=listen_ssl
    )
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="SMTP server for the end-to-end tests")
    p.add_argument("port", type=int)
    p.add_argument("dir")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    tls.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASS")
    args = p.parse_args()
    if args.auth and not (args.starttls or args.implicit_tls):
        p.error("--auth needs --starttls or --implicit-tls")
    asyncio.run(main(args))
