"""A real ecflow_server on loopback, for tests, the demo and benchmarks.

ecFlow 5.9.2 quirks this module works around:
- the server refuses ports >= 49152 and then keeps running without listening,
  so ports are picked in 20000-49151 and checked to bind;
- it ignores SIGTERM, so it is stopped with ``ecflow_client --terminate=yes``
  and SIGKILL as the fallback;
- its jobs outlive it, so every process it starts carries a marker variable in
  its environment and ``stop()`` kills whatever still carries it;
- with SSL (``ECF_SSL=1`` or ``--ssl``) the server and every client read their
  certificates from ``$HOME/.ecflowrc/ssl/`` (ecFlow's Base/src/Openssl.cpp), so an
  SSL server here gets its own HOME (its home), and its clients that HOME too.

``ecflow`` is imported lazily so that this module imports without it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

HOST = "localhost"
PORT_RANGE = (20000, 49151)
# Every process the server starts (jobs included) inherits this variable,
# which is how leftover jobs are found and killed.
MARKER = "WFFS_DEVSERVER_HOME"
# What ecFlow 5.9 looks for in $HOME/.ecflowrc/ssl/ when ECF_SSL=1 (or --ssl): the
# server all three, a client only server.crt (checked against the server's own).
SSL_FILES = ("server.crt", "server.key", "dh2048.pem")
# ecflow.Client's own connection settings (5.9.2, ClientInvoker.hpp/.cpp)
CLIENT_ATTEMPTS, CLIENT_RETRY_PERIOD = 2, 10


def _server_binary() -> str:
    """Debian puts ecflow_server in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which("ecflow_server")
    if found:
        return found
    return "/usr/sbin/ecflow_server"


def _client_binary() -> str:
    return shutil.which("ecflow_client") or "/usr/bin/ecflow_client"


def free_port(attempts: int = 50) -> int:
    """A random port that ecflow_server accepts (< 49152) and that binds now.

    Checked on all addresses, as ecflow_server listens on 0.0.0.0 (so the port
    is also free on 127.0.0.1).
    """
    for _ in range(attempts):
        port = random.randint(*PORT_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORT_RANGE} after {attempts} tries")


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy; return that value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


def client_cli(port: int, *args: str, timeout: float = 10, host: str = HOST,
               ssl_home: Optional[Path] = None) -> subprocess.CompletedProcess:
    """Run ecflow_client against host:port; stdin closed so it never prompts.

    With ssl_home, over SSL (``--ssl``) with the certificate of ssl_home/.ecflowrc/ssl.
    """
    cmd = [_client_binary(), "--host", host, "--port", str(port), *(["--ssl"] if ssl_home else []), *args]
    env = None if ssl_home is None else {**os.environ, "HOME": str(ssl_home)}
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)


def make_certificates(directory: Path) -> None:
    """A self-signed certificate, its key (no passphrase) and DH parameters, as
    ecFlow expects them in ``$HOME/.ecflowrc/ssl``; made once (kept if all there).

    Clients check the server's certificate against their copy of server.crt, not
    its host name, so one certificate serves any host:port. The DH parameters
    are the standard ffdhe2048 group: ``openssl dhparam 2048`` takes a minute.
    """
    directory = Path(directory)
    if all((directory / name).exists() for name in SSL_FILES):
        return
    directory.mkdir(parents=True, exist_ok=True)
    for args in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", f"/CN={HOST}",
                  "-keyout", "server.key", "-out", "server.crt"],
                 ["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", "dh2048.pem"]):
        done = subprocess.run(["openssl", *args], cwd=directory, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")


@contextlib.contextmanager
def _home_set_to(home: Path):
    """HOME for this process, where the ecflow binding looks for certificates."""
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        yield
    finally:
        if old is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = old


def _listening(port: int) -> bool:
    """Something listens on TCP port, read from the kernel's socket tables.

    Not a test connection: the server would log an ERR line for it.
    """
    suffix = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[1].endswith(suffix) and fields[3] == "0A":
                        return True
        except OSError:
            continue
    return False


def ping(port: int, timeout: float = 10, host: str = HOST) -> bool:
    """True when a server answers on port."""
    try:
        return client_cli(port, "--ping", timeout=timeout, host=host).returncode == 0
    except subprocess.TimeoutExpired:
        return False


# --------------------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
    """True for a running (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # the state letter follows the command name in parentheses
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] != b"Z"


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return b""


def marked_pids(home: Path, marker: str = MARKER) -> list[int]:
    """Processes started by the dev server of this home (the server and its jobs), i.e. carrying the
    environment variable `marker` set to it."""
    needle = f"{marker}={Path(home).resolve()}".encode()
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        if needle in _environ(int(entry)).split(b"\0") and _pid_alive(int(entry)):
            pids.append(int(entry))
    return pids


def kill_jobs(home: Path, timeout: float = 5, marker: str = MARKER) -> list[int]:
    """SIGKILL every process carrying this home's marker; returns those killed.

    SIGKILL, not SIGTERM: a job's trap would otherwise run ``ecflow_client
    --abort``, which retries for ECF_TIMEOUT against a server that is gone.
    Loops because a dying job may just have forked.
    """
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        pids = marked_pids(home, marker)
        if not pids or time.monotonic() >= deadline:
            return killed
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def is_devserver(pid: int, home: Path) -> bool:
    """Guard against pid reuse: pid is an ecflow_server started for this home."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    needle = f"{MARKER}={Path(home).resolve()}".encode()
    return b"ecflow_server" in cmdline and needle in _environ(pid).split(b"\0")


def stop_server(port: int, pid: Optional[int], home: Path, timeout: float = 10) -> None:
    """Stop a dev server known only by port/pid/home (e.g. from a state file).

    Terminate through the client first (the server ignores SIGTERM and a clean
    terminate writes its checkpoint), then SIGKILL, then kill leftover jobs.
    """
    alive = pid is not None and is_devserver(pid, home)
    if alive:
        try:
            os.kill(pid, signal.SIGCONT)  # a paused server cannot answer terminate
        except ProcessLookupError:
            alive = False
    if alive:  # else whoever answers on that port now is not ours to stop
        try:
            client_cli(port, "--terminate=yes", timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            wait_for(lambda: not _pid_alive(pid), timeout)
        except TimeoutError:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_for(lambda: not _pid_alive(pid), timeout)
    kill_jobs(home)


# --------------------------------------------------------------------------- server


class _PortTaken(Exception):
    """Another process got the port between free_port() and the server's bind."""


class EcflowServer:
    """One ecflow_server process whose ECF_HOME is ``home``, used via localhost.

    (ecflow_server 5.9 listens on all addresses; nothing here sends traffic
    anywhere but localhost.)

    ``ssl=True``: the server speaks only SSL (``ECF_SSL=1``, which its jobs
    inherit) and ``home`` is also its HOME, with a self-signed certificate in
    ``home/.ecflowrc/ssl``; ``cli()`` and ``client()`` then use SSL and that
    certificate, and so must any other client (HOME=home: ``client_env()``).

    ``files_at``: a server whose files this machine cannot see.  The server runs in a mount namespace of
    its own where ``files_at`` is bound over ``home`` (an empty directory out here); its jobs inherit
    that namespace.  Write its scripts into ``files_dir``.  Neither directory may be removed or renamed
    while it runs (the kernel would detach the bind mount inside too).
    """

    def __init__(self, home: Path, port: Optional[int] = None, *, ssl: bool = False,
                 files_at: Optional[Path] = None):
        self._home = Path(home).resolve()
        self._files_at = Path(files_at).resolve() if files_at else None
        self._ssl = ssl
        self._port = port
        self._auto_port = port is None  # free to pick another if it gets taken
        self._proc: Optional[subprocess.Popen] = None
        self._paused = False
        self._log_offset = 0

    # properties -------------------------------------------------------------
    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("port not chosen yet: call start() first")
        return self._port

    @property
    def home(self) -> Path:
        return self._home

    @property
    def files_dir(self) -> Path:
        """Where the server's ECF_HOME really is, as seen from here."""
        return self._files_at or self._home

    @property
    def ssl(self) -> bool:
        return self._ssl

    @property
    def ssl_dir(self) -> Path:
        """Where the server and its clients find the certificates (ssl=True)."""
        return self._home / ".ecflowrc" / "ssl"

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path:
        """Where the server's own stdout/stderr go."""
        return self._home / "server.out"

    @property
    def paused(self) -> bool:
        return self._paused

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # lifecycle --------------------------------------------------------------
    def _env(self) -> dict:
        """The caller's environment without its ECF_* settings, plus ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ECF_")}
        env.update(ECF_HOME=str(self._home), ECF_PORT=str(self.port), **{MARKER: str(self._home)})
        if self._ssl:
            env.update(HOME=str(self._home), ECF_SSL="1")
        return env

    def client_env(self) -> dict:
        """The environment for a client process of this server (e.g. a mount): with
        ssl, HOME where its certificate is. Without ECF_SSL, which would turn SSL on
        without --ssl."""
        env = {k: v for k, v in os.environ.items() if k != "ECF_SSL"}
        if self._ssl:
            env["HOME"] = str(self._home)
        return env

    def start(self, timeout: float = 20, *, stop_at_exit: bool = True) -> "EcflowServer":
        """Start the server and wait until it answers.

        A port picked here is picked again if another process takes it first;
        once the server has run, its port is fixed (restart() comes back on it).

        stdin is /dev/null so the server survives its starter losing stdin; a
        new session keeps a terminal's Ctrl-C away from it. ``stop_at_exit``
        False is for the demo, whose server outlives the starting process.
        """
        if self.running():
            return self
        self._home.mkdir(parents=True, exist_ok=True)
        if self._files_at:
            self._files_at.mkdir(parents=True, exist_ok=True)
        if self._ssl:
            make_certificates(self.ssl_dir)
        for attempt in range(3 if self._auto_port else 1):
            if self._auto_port and (self._port is None or attempt > 0):
                self._port = free_port()
            try:
                self._start_once(timeout, stop_at_exit)
                self._auto_port = False
                return self
            except _PortTaken:
                if attempt == 2 or not self._auto_port:
                    raise RuntimeError(f"port {self.port} is taken; {self.log_path} ends with:\n"
                                       f"{self._tail()}") from None
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float, stop_at_exit: bool) -> None:
        with open(self.log_path, "ab") as out:
            self._log_offset = out.tell()
            argv = [_server_binary(), "--port", str(self.port)]
            if self._files_at:
                argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"', "sh",
                        str(self._files_at), str(self._home), *argv]
            self._proc = subprocess.Popen(
                argv,
                cwd=self._home, env=self._env(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._paused = False
        if stop_at_exit:
            atexit.register(self.stop)
        try:
            wait_for(self._answers, timeout, interval=0.05)
        except TimeoutError:
            self._kill()
            raise RuntimeError(
                f"ecflow_server on port {self.port} did not answer within {timeout} s;"
                f" {self.log_path} ends with:\n{self._tail()}") from None
        # the server starts HALTED (no jobs submitted) even from a checkpoint
        done = self.cli("--restart")
        if done.returncode != 0:
            self._kill()
            raise RuntimeError(f"ecflow_client --restart failed: {done.stderr.decode(errors='replace')}")

    def _answers(self) -> bool:
        """Ours answers: checks ECF_HOME in --stats, since a ping could reach
        another server that took the port first (ours then exits)."""
        if self._proc is None or self._proc.poll() is not None:
            if "Address already in use" in self._new_output():
                raise _PortTaken()
            raise RuntimeError(f"ecflow_server exited early; {self.log_path} ends with:\n{self._tail()}")
        if not _listening(self.port):
            return False  # ecflow_client would retry a closed port for ~10 s
        try:
            stats = self.cli("--stats", timeout=10)
        except subprocess.TimeoutExpired:
            return False
        if stats.returncode != 0:
            return False
        if f"ECF_HOME {self._home}" not in " ".join(stats.stdout.decode(errors="replace").split()):
            try:
                self._proc.wait(10)  # someone else's server: ours is about to exit
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"port {self.port} answers with another ECF_HOME:\n"
                                   f"{stats.stdout.decode(errors='replace')}") from None
            raise _PortTaken()
        return True

    def _new_output(self) -> str:
        """What the server printed since the last start (server.out is appended to)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        kill_jobs(self._home)

    def stop(self, timeout: float = 10) -> None:
        """Terminate the server and its leftover jobs; safe to call twice."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        self._paused = False
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            try:
                self.cli("--terminate=yes", timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        kill_jobs(self._home)

    def restart(self, timeout: float = 20) -> "EcflowServer":
        """Stop, then start on the same port and home; the server recovers
        its definition from the checkpoint ``<host>.<port>.ecf.check`` in home."""
        self.stop()
        return self.start(timeout)

    def pause(self) -> None:
        """SIGSTOP: the server hangs (connections open, no answers)."""
        if self.running():
            os.kill(self.pid, signal.SIGSTOP)
            self._paused = True

    def resume(self) -> None:
        if self.running():
            os.kill(self.pid, signal.SIGCONT)
            self._paused = False

    def __enter__(self) -> "EcflowServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # talking to it ------------------------------------------------------------
    def client(self, fail_fast: bool = False):
        """A fresh ecflow.Client; fail_fast makes calls to a down server fail at once.

        With ssl, the binding reads the certificate under $HOME at enable_ssl()
        and again at its first call, so both happen here under our HOME (the
        first call a ping, which a paused server would not answer: skipped then).
        """
        import ecflow

        client = ecflow.Client(HOST, self.port)
        if fail_fast or self._ssl:
            client.set_connection_attempts(1)
            client.set_retry_connection_period(0)
        if self._ssl:
            with _home_set_to(self._home):
                client.enable_ssl()
                if not self._paused:
                    try:
                        client.ping()
                    except RuntimeError:
                        pass  # a server that is down: the certificate is read all the same
            if not fail_fast:
                client.set_connection_attempts(CLIENT_ATTEMPTS)
                client.set_retry_connection_period(CLIENT_RETRY_PERIOD)
        return client

    def cli(self, *args: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """``ecflow_client --host localhost --port P [--ssl] *args``, output as bytes."""
        return client_cli(self.port, *args, timeout=timeout, ssl_home=self._home if self._ssl else None)

    def checkpoint_path(self) -> Path:
        """Where the server checkpoints its definition (and recovers it from)."""
        return self._home / f"{socket.gethostname()}.{self.port}.ecf.check"

    def __repr__(self) -> str:
        ssl = ", ssl=True" if self._ssl else ""
        return f"EcflowServer(home={str(self._home)!r}, port={self._port}{ssl}, pid={self.pid})"


# --------------------------------------------------------------------------- states


def _client_of(server_or_client: Any):
    return server_or_client.client() if isinstance(server_or_client, EcflowServer) else server_or_client


def state_of(server: Any, path: str) -> str:
    """The state name a user sees, e.g. 'complete', 'aborted', 'suspended'.

    Uses the display state so that a suspended node reads 'suspended' rather
    than the 'queued' state underneath.
    """
    return states_of(server, [path])[path]


def states_of(server: Any, paths: Iterable[str]) -> dict:
    """State names of several nodes from one sync; 'missing' for absent nodes."""
    client = _client_of(server)
    client.sync_local()
    defs = client.get_defs()
    result = {}
    for path in paths:
        node = defs.find_abs_node(path) if defs is not None else None
        result[path] = str(node.get_dstate()) if node is not None else "missing"
    return result
