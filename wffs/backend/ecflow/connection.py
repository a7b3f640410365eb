"""The ecFlow client as the worker uses it: every server call goes through `call`, which turns the
binding's errors into the protocol's (Missing, Unavailable) and forgets the definition when the server
was away.  Part of EcflowSession (see session.py), whose attributes it uses."""

from __future__ import annotations

import json
import os
import subprocess

from wffs.backend.ecflow import credentials
from wffs.backend.protocol import Missing, Unavailable


def one_line(text: str, limit: int = 300) -> str:
    """An ecFlow error message on one line, for status files and logs."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def use_credentials(client, auth_file: str) -> str:
    """Log in with the user and password of a JSON file; '' when set, else why not (never the password)."""
    try:
        with open(os.path.expanduser(auth_file)) as f:
            creds = json.load(f)
        user = creds.get("username", creds.get("user"))  # ecFlow's own files say "username"
        password = creds["password"]
        if not isinstance(user, str) or not isinstance(password, str):
            raise TypeError
    except OSError as e:
        return f"auth file {auth_file}: {e.strerror}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"auth file {auth_file}: not JSON with \"username\" (or \"user\") and \"password\""
    return credentials.apply(client, user, password)


class Connection:
    """Server calls: SSL and credentials first, errors mapped, the definition forgotten on a lost connection."""

    def prepare(self) -> None:
        """SSL and credentials, checked before the first call and after every failure of theirs."""
        if self.ssl:
            try:
                self.client.enable_ssl()  # raises at once when the certificate is missing
            except RuntimeError as e:
                raise Unavailable(f"ssl: {one_line(str(e))}") from None
            self.ssl = False
        if not self.logged_in:
            error = use_credentials(self.client, self.auth_file)
            if error:
                raise Unavailable(error)
            self.logged_in = True

    def call(self, fn, *args):
        self.prepare()
        try:
            return fn(*args)
        except RuntimeError as e:
            text = str(e)
            if "not exist" in text or "Could not find" in text or "no such" in text.lower():
                raise Missing(one_line(text)) from None
            if "authentication failed" in text:
                self.logged_in = not self.auth_file  # read the auth file again: it may have been fixed
            if "connect" in text.lower():  # down, or restarted: its change numbers start again from a checkpoint
                self.forget_definition()
            raise Unavailable(one_line(text) or "server error") from None

    def forget_definition(self) -> None:
        """The next sync downloads the whole definition: after the server was away, its change numbers
        cannot tell what changed (a server restarted from its checkpoint counts from there again)."""
        if self.synced:
            self.client.reset()
            self.synced = False
            self.version = ""  # asked again first: its answer tells a slow server from a hung one (see sync)
            self.files = None  # and whose files these are: it may have been restarted elsewhere

    def op_ping(self):
        self.call(self.client.ping)
        return True

    def server_version(self) -> str:
        try:
            return self.call(self.client.server_version)
        except (Unavailable, Missing):
            return ""

    def client_command(self, *args: str) -> bytes:
        argv = ["ecflow_client", f"--host={self.host}", f"--port={self.port}", *args]
        try:
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise Unavailable(f"{argv[0]} {args[0]}: {e}") from None
        if done.returncode != 0:
            raise Unavailable(done.stderr.decode(errors="replace").strip() or f"{argv[0]} failed")
        return done.stdout
