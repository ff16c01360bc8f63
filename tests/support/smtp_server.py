#!/usr/bin/env python3
"""A real SMTP server for accesswatch's integration tests, built on aiosmtpd.

Usage:
    smtp_server.py --maildir DIR --port-file FILE
                   [--tls-cert CERT --tls-key KEY (--starttls | --implicit-tls)]
                   [--auth-user USER --auth-password PASS] [--delay SECONDS]

It listens on 127.0.0.1 on a port the kernel picks, and once it accepts
connections writes that port number (decimal, no newline) to FILE, atomically
(FILE.tmp, then rename), so a test polls FILE until it exists.

Modes:
  (default)       plain SMTP, no TLS.
  --starttls      offers STARTTLS with CERT/KEY and refuses every command but
                  EHLO/HELO/NOOP/QUIT/STARTTLS until the client has used it
                  (aiosmtpd's require_starttls).
  --implicit-tls  SMTPS: TLS from the first byte, with CERT/KEY.

With --auth-user/--auth-password, AUTH (PLAIN and LOGIN) is required before
MAIL, and only exactly those credentials succeed; anything else gets 535. In
the TLS modes AUTH is offered only over TLS; in plain mode it is offered in the
clear, so plain-mode AUTH can be tested. Without --auth-user, AUTH attempts
are all rejected with 535 and none is required.

With --delay, each message is accepted (250 after DATA) only after that
many seconds: a slow server.

Each accepted message N (numbered from 1, after any NNNN.eml already in DIR)
is stored as DIR/NNNN.json, {"mail_from", "rcpt_tos", "auth_user"}, and then
DIR/NNNN.eml, exactly the DATA bytes (dot-unstuffed, CRLF line endings as sent).
Both are written to a temporary name and renamed, so a test that sees
NNNN.eml can read both files whole.

Certificates: rustls (the daemon's TLS) refuses a certificate marked as a CA
when it is used as the server's own certificate (CaUsedAsEndEntity), and
`openssl req -x509` marks one as a CA by default. For a self-signed test
certificate add `-addext basicConstraints=critical,CA:FALSE
-addext extendedKeyUsage=serverAuth`, or do as tests/it/common.rs does and
sign a leaf certificate with a separate test CA.

SIGTERM or SIGINT stops it with exit status 0. It also stops when its parent
process goes away, so a test that dies without killing it leaves nothing
behind; start it directly (not through a shell that exits at once, such as
`sh -c '... &'`, which would stop it within a second). Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import re
import signal
import ssl
import sys
import warnings
import weakref
from pathlib import Path

try:
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
except ImportError as error:  # pragma: no cover - depends on the environment
    sys.exit(
        f"smtp_server.py: cannot import aiosmtpd ({error}); "
        "install it with: pip install aiosmtpd==1.4.6"
    )

log = logging.getLogger("smtp_server")

HOST = "127.0.0.1"
MESSAGE_NAME = re.compile(r"^(\d+)\.eml$")


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class MaildirHandler:
    """aiosmtpd handler: stores every message in a directory."""

    def __init__(self, maildir: Path, delay: float = 0.0) -> None:
        self.maildir = maildir
        self.delay = delay
        existing = [
            int(m.group(1))
            for m in (MESSAGE_NAME.match(p.name) for p in maildir.iterdir())
            if m
        ]
        self.count = max(existing, default=0)

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.delay:
            # A slow server: the message is accepted only after the delay.
            await asyncio.sleep(self.delay)
        data = envelope.original_content
        if data is None:
            content = envelope.content or b""
            data = content.encode("utf-8") if isinstance(content, str) else content
        self.count += 1
        stem = f"{self.count:04d}"
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "auth_user": session.auth_data if session.authenticated else None,
        }
        write_atomically(
            self.maildir / f"{stem}.json",
            (json.dumps(meta, indent=2) + "\n").encode("utf-8"),
        )
        write_atomically(self.maildir / f"{stem}.eml", data)
        log.info(
            "stored %s.eml: %d bytes from %r to %r (auth_user %r)",
            stem,
            len(data),
            meta["mail_from"],
            meta["rcpt_tos"],
            meta["auth_user"],
        )
        return "250 OK"


class Authenticator:
    """aiosmtpd authenticator accepting exactly one user name and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: object,
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            # Compare both, always, in constant time.
            user_ok = hmac.compare_digest(auth_data.login, self.user)
            password_ok = hmac.compare_digest(auth_data.password, self.password)
            if user_ok and password_ok:
                log.info("AUTH %s succeeded for %r", mechanism, self.user.decode())
                return AuthResult(success=True, auth_data=self.user.decode("utf-8"))
            log.info("AUTH %s rejected for %r", mechanism, auth_data.login)
        # handled=False and no message: aiosmtpd answers
        # "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)


class TestSMTP(SMTP):
    """aiosmtpd's SMTP, made aware of implicit TLS.

    aiosmtpd 1.4.6 knows a connection is encrypted only when it ran STARTTLS
    itself (it tests `self._tls_protocol`), so with TLS on the listening
    socket it would neither offer AUTH nor accept it (538) while
    auth_require_tls is True. For an implicit-TLS connection, mark it as
    encrypted as soon as it is made.
    """

    def __init__(self, *args, implicit_tls: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._implicit_tls = implicit_tls

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._implicit_tls and self._tls_protocol is None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is None:
                # Cannot happen with ssl= on the server socket; refuse
                # rather than talk in the clear.
                log.error("implicit TLS connection without TLS; closing it")
                transport.close()
                return
            self._tls_protocol = getattr(transport, "_ssl_protocol", ssl_object)
            assert self.session is not None
            self.session.ssl = {
                key: transport.get_extra_info(key)
                for key in ("sslcontext", "ssl_object", "peercert", "cipher", "compression")
            }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="SMTP server for accesswatch's integration tests (aiosmtpd).",
    )
    parser.add_argument("--maildir", required=True, type=Path,
                        help="directory for NNNN.eml and NNNN.json (created if missing)")
    parser.add_argument("--port-file", required=True, type=Path,
                        help="file the listening port is written to once ready")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on (default: one the kernel picks)")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate (chain)")
    parser.add_argument("--tls-key", type=Path, help="PEM private key")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--starttls", action="store_true",
                      help="offer STARTTLS and require it before MAIL")
    mode.add_argument("--implicit-tls", action="store_true",
                      help="TLS from the first byte (SMTPS)")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds to wait before accepting each message (a slow server)")
    parser.add_argument("--auth-user", help="require AUTH with this user name")
    parser.add_argument("--auth-password", help="... and this password")
    args = parser.parse_args(argv)

    tls = args.starttls or args.implicit_tls
    if tls and not (args.tls_cert and args.tls_key):
        parser.error("--starttls and --implicit-tls need --tls-cert and --tls-key")
    if not tls and (args.tls_cert or args.tls_key):
        parser.error("--tls-cert/--tls-key need --starttls or --implicit-tls")
    if (args.auth_user is None) != (args.auth_password is None):
        parser.error("give both --auth-user and --auth-password, or neither")
    return args


def make_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return context


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    args.maildir.mkdir(parents=True, exist_ok=True)
    handler = MaildirHandler(args.maildir, args.delay)

    tls_context = None
    if args.starttls or args.implicit_tls:
        tls_context = make_tls_context(args.tls_cert, args.tls_key)
    auth = args.auth_user is not None
    authenticator = Authenticator(args.auth_user, args.auth_password) if auth else None

    connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory() -> SMTP:
        smtp = TestSMTP(
            handler,
            # A fixed name: the default, socket.getfqdn(), may wait on DNS.
            hostname="localhost",
            enable_SMTPUTF8=True,
            tls_context=tls_context if args.starttls else None,
            require_starttls=args.starttls,
            auth_required=auth,
            # Over TLS, AUTH only after TLS; in plain mode AUTH must be
            # possible in the clear or it cannot be tested at all.
            auth_require_tls=args.starttls or args.implicit_tls,
            authenticator=authenticator,
            implicit_tls=args.implicit_tls,
            loop=loop,
        )
        connections.add(smtp)
        return smtp

    # Port 0 (the default): the kernel picks a free port, and there is no window in which
    # another process could take it between choosing and binding.
    server = await loop.create_server(
        factory,
        host=HOST,
        port=args.port,
        ssl=tls_context if args.implicit_tls else None,
    )
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    parent = os.getppid()

    async def watch_parent() -> None:
        # A poll: there is no event for the parent's exit to wait on.
        while os.getppid() == parent:
            await asyncio.sleep(1)
        log.info("parent process %d went away; stopping", parent)
        stop.set()

    watcher = asyncio.create_task(watch_parent())

    write_atomically(args.port_file, str(port).encode("ascii"))
    mode = "starttls" if args.starttls else "implicit-tls" if args.implicit_tls else "plain"
    log.info(
        "listening on %s:%d (%s%s), storing messages in %s",
        HOST,
        port,
        mode,
        ", AUTH required" if auth else "",
        args.maildir,
    )

    await stop.wait()
    log.info("stopping")
    watcher.cancel()
    server.close()
    for smtp in list(connections):
        if smtp.transport is not None:
            smtp.transport.close()
    await server.wait_closed()


class _DropKnownWarnings(logging.Filter):
    """Drops aiosmtpd warnings that are expected here and only noise:
    1.4.6 sets the deprecated Session.login_data itself on every successful
    AUTH and then warns about it, and plain-mode AUTH (wanted, for tests)
    warns on every connection."""

    NOISE = ("login_data is deprecated", "auth_require_tls == False")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="smtp_server[%(process)d] %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("mail.log").addFilter(_DropKnownWarnings())
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    try:
        asyncio.run(serve(args))
    except OSError as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
