"""Log an ecFlow client in as a user with a password (runs in the worker process only).

ecFlow 5.9 clients have no password option: they read passwords from a "custom password" file named by
$ECF_CUSTOM_PASSWD, one line per server, `user host port password`, under a version header; the user
name comes from Client.set_user_name.  The worker writes such a file,
readable by its owner only, in the private directory the mount made for this worker process (and
removes when it stops or kills it), and points its own environment at it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from wffs.backend.protocol import PRIVATE_DIR_ENV


#: The oldest password-file version ecFlow 5 reads; the format has not changed since.
FILE_VERSION = "4.5.0"


def password_file_text(user: str, host: str, port: int, password: str) -> str:
    return f"{FILE_VERSION}\n{user} {host} {port} {password}\n"


def apply(client, user: str, password: str) -> str:
    """Use these credentials for every later call of `client`; '' on success, else why not."""
    if not user or any(c.isspace() for c in user + password):
        return "auth file: user and password must be non-empty words"
    private = os.environ.get(PRIVATE_DIR_ENV)  # made for this worker, removed by the mount
    if not private:
        private = tempfile.mkdtemp(prefix="wffs-auth-")
        atexit.register(shutil.rmtree, private, True)
    path = os.path.join(private, "custom_passwd")
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password_file_text(user, client.get_host(), int(client.get_port()), password))
    os.environ["ECF_CUSTOM_PASSWD"] = path
    os.environ["ECF_USER"] = user
    client.set_user_name(user)
    return ""
