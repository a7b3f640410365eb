"""One ecFlow server as the worker holds it: a client, a cached definition, and what the last delta
reported per node.  Its jobs live in the classes it is made of, one module each (server calls, the
definition and its deltas, files on this machine, file reads, mirror writes, server texts); the
state they share is set up here, in one place."""

from __future__ import annotations

import os
import pwd
from typing import Callable, Optional

import ecflow

from wffs.backend.ecflow import att as ecflow_att, local_proof, script as ecf_script
from wffs.backend.ecflow.connection import Connection
from wffs.backend.ecflow.local_files import LocalFiles
from wffs.backend.ecflow.reads import FileReads
from wffs.backend.ecflow.script_manuals import ScriptManuals
from wffs.backend.ecflow.sync import DefinitionSync
from wffs.backend.ecflow.texts import ServerTexts
from wffs.backend.ecflow.writes import MirrorWrites

#: Environment with which the binding logs in otherwise than as this process's user (see wire.py).
LOGIN_ENV = ("ECF_USER", "ECF_CUSTOM_PASSWD", "ECF_PASSWD", "ECF_SSL")
#: Set (to anything) in the mount's environment: every file request through the binding, checked by cut_check.
NO_WIRE_ENV = "WFFS_NO_WIRE"


class EcflowSession(DefinitionSync, LocalFiles, FileReads, MirrorWrites, ServerTexts, Connection):
    """One client, one cached definition, and what the last delta reported per node (answers
    protocol.serve's requests with its op_* methods)."""

    def __init__(self, host: str, port: int, max_file_size: int, *, ssl: bool = False,
                 auth: Optional[str] = None, script_manuals: Optional[str] = None, files: str = "auto",
                 report: Callable[[str], None] = lambda text: None):
        self.host, self.port = host, port
        self.auth_file = auth  # read when first needed, again after a failure (the user may fix it)
        self.logged_in = not auth
        self.ssl = ssl
        self.client = ecflow.Client(host, str(port))
        self.client.set_connection_attempts(1)
        self.client.set_retry_connection_period(0)
        self.client.set_auto_sync(False)
        self.max_file_size = max_file_size
        self.synced = False
        self.changed: set | None = None  # paths changed since the last delta; None: everything
        self.sent: dict[str, tuple] = {}  # path -> the cheap fields last reported
        self.whys: dict[str, bytes] = {}  # path -> why text last reported, for waiting nodes
        self.local_paths: dict[str, dict] = {}  # task path -> {kind: file on disk} as found at its last record
        self.variables: dict[str, tuple] = {}  # path -> variables it passed down when last rendered
        self.server_vars: tuple = ()
        self.files_mode = files  # auto: the disk only where it is proven to be the server's (local_proof)
        self.files: Optional[local_proof.FilesDecision] = None  # None: to be decided at the next delta
        self.local_files = False
        self.awaited: dict[str, tuple] = {}  # task path -> job/out kinds not on disk yet while it runs
        self.version = ""
        self.inheritance = ecflow_att.Inheritance(())
        self.include_check = ecf_script.IncludeCheck()  # include files looked at once per delta
        self.manuals = ScriptManuals(script_manuals)  # what each script says of its manual, between mounts
        self.report = report  # how a long call says it is under way (protocol.reporter)
        #: file requests spoken on the wire (exact, one request each) unless the binding must log in
        self.wire = (not ssl and not auth and not any(os.environ.get(name) for name in LOGIN_ENV)
                     and not os.environ.get(NO_WIRE_ENV))
        self.login = pwd.getpwuid(os.geteuid()).pw_name
