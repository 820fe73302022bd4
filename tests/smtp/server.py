"""A tiny SMTP server for the end-to-end tests (aiosmtpd).

    python3 tests/smtp/server.py PORT DIR

Accepts every message on 127.0.0.1:PORT and writes each, parsed, to DIR as
one JSON file (written under a temporary name, then renamed):
{"mail_from", "rcpt_tos", "from", "to", "subject", "text", "html"}, the text
and HTML parts decoded. Prints "ready" once it listens.
"""

import asyncio
import email
import json
import os
import sys
import time
from email import policy

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        self.count += 1
        name = f"{time.time_ns()}-{self.count}.json"
        tmp = os.path.join(self.folder, "." + name)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, name))
        return "250 Message accepted for delivery"


async def main(port, folder):
    os.makedirs(folder, exist_ok=True)
    handler = Handler(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
