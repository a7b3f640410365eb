"""The `wffs` command: builds the parts and starts or stops a mount; no logic of its own."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time

import click

from wffs import __version__, config, mount_table, preflight, user_cache
from wffs.backend.ecflow import local_proof
from wffs.config import ServerConfig

SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a size such as 64M")
    return int(m.group(1)) * SIZE_UNITS[m.group(2).lower()]


def is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def resolve_target(args: tuple) -> tuple[str, int, str]:
    """HOST PORT MNT, with ECF_HOST / ECF_PORT standing in for omitted ones (as ecflow_client does)."""
    env_host, env_port = os.environ.get("ECF_HOST", "localhost"), os.environ.get("ECF_PORT", "3141")
    if len(args) == 3:
        host, port, mnt = args
    elif len(args) == 2:
        first, mnt = args
        host, port = (env_host, first) if is_number(first) else (first, env_port)
    elif len(args) == 1:
        host, port, mnt = env_host, env_port, args[0]
    else:
        raise click.UsageError("expected [HOST] [PORT] MOUNTPOINT")
    if not is_number(str(port)) or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{port!r} is not a port number", param_hint="PORT")
    return host, int(port), mnt


def default_log_file(mountpoint: str) -> str:
    base = user_cache.directory()
    try:
        user_cache.made()
    except OSError as e:
        raise click.ClickException(f"cannot make {base} for the log ({e.strerror}): give --log FILE") from None
    return os.path.join(base, re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.abspath(mountpoint)).strip("_") + ".log")


def setup_logging(debug: bool, log_file: str | None) -> None:
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[handler])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wffs")
def main():
    """Mount workflow servers (ecFlow) as directories: ls, find, cat, grep -r, tar and rsync your suites.

    \b
    wffs mount localhost 3141 ~/ecf     mount a server (returns when the mount is up)
    wffs umount ~/ecf                   unmount it
    """


@main.command()
@click.argument("target", nargs=-1, required=True, metavar="[HOST] [PORT] MOUNTPOINT | cylc://WORKFLOW_ID MOUNTPOINT")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Mount every server of this TOML file, each as MOUNTPOINT/<name>/.")
@click.option("-f", "--foreground", is_flag=True, help="Stay in the foreground (log to stderr).")
@click.option("--refresh", default=2.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between checks for news while the mount is in use.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.5, 600),
              help="Seconds before a server call is given up (EIO) and its worker restarted.")
@click.option("--max-file-size", default="64M", show_default=True, callback=lambda c, p, v: parse_size(v),
              help="Larger .ecf/.job/.out files are served as their head plus a marker line.")
@click.option("-o", "options", multiple=True, metavar="OPT[,OPT...]",
              help="FUSE mount options, e.g. -o allow_other.")
@click.option("--read-only", is_flag=True, help="Refuse every write, control files included (EROFS).")
@click.option("--ssl", is_flag=True,
              help="Talk SSL to the server (needs its certificate: ~/.ecflowrc/ssl/server.crt or <host>.<port>.crt).")
@click.option("--files", "files", type=click.Choice(local_proof.MODES), default="auto", show_default=True,
              help="Where an ecFlow server's .ecf/.job/.out/.man come from: this machine's disk, the server, or "
                   "the disk only where the server's log file here proves it is the server's.")
@click.option("--disk-cache", default="256M", show_default=True, callback=lambda c, p, v: parse_size(v),
              help="Bytes of a remote server's files kept on disk between mounts, per server (0: none).")
@click.option("--script-age", default=600.0, show_default=True, type=click.FloatRange(0, 86400 * 365),
              help="Seconds a remote server's .ecf/.man read earlier is trusted (any change of its task's state "
                   "makes them be read again).")
@click.option("--fast-open", is_flag=True,
              help="Answer opens of files the kernel holds without Python (wffs/_fastopen: a thread that polls the "
                   "FUSE device for 150 us after each request; faster warm tar and grep -r, more CPU).")
@click.option("--debug", is_flag=True, help="Log debug messages.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False),
              help="Log file when in the background [default: ~/.cache/wffs/<mountpoint>.log].")
def mount(target, config_file, foreground, refresh, timeout, max_file_size, options, read_only, ssl, files,
          disk_cache, script_age, fast_open, debug, log_file):
    """Mount the ecFlow server HOST:PORT at MOUNTPOINT, or with --config several servers.

    `cylc://WORKFLOW_ID MOUNTPOINT` mounts a Cylc 8 workflow instead (needs wffs[cylc]).

    HOST and PORT default to $ECF_HOST and $ECF_PORT.  Without --foreground, wffs returns once the
    mount answers and keeps serving it in the background; `wffs umount MOUNTPOINT` (or SIGTERM)
    unmounts it.
    """
    if config_file:
        if len(target) != 1:
            raise click.UsageError("with --config, give only the MOUNTPOINT")
        if ssl:
            raise click.UsageError("with --config, set ssl = true for each server in the file instead of --ssl")
        servers = load_servers(config_file)
        mnt = target[0]
    elif target and target[0].startswith("cylc://"):  # a Cylc 8 workflow
        if len(target) != 2:
            raise click.UsageError("expected cylc://WORKFLOW_ID MOUNTPOINT")
        from wffs.backend.cylc.backend import workflow_of
        try:
            workflow = workflow_of(target[0])
        except ValueError:
            raise click.BadParameter(f"{target[0]!r} is not cylc://WORKFLOW_ID", param_hint="TARGET") from None
        servers = [ServerConfig(target[0], "", 0, cylc=workflow)]
        mnt = target[1]
    else:
        host, port, mnt = resolve_target(target)
        servers = [ServerConfig(f"{host}:{port}", host, port, ssl=ssl)]
    prepare_mountpoint(mnt, options)
    if not foreground:
        background(mnt, log_file, timeout)
        return
    setup_logging(debug, log_file)
    from wffs.backend.cylc.backend import CylcBackend
    from wffs.backend.ecflow.backend import EcflowBackend
    from wffs.mount import MountFailed, serve

    def make_backend(s):
        if s.cylc:
            return CylcBackend(s.cylc, timeout=timeout, max_file_size=max_file_size)
        return EcflowBackend(s.host, s.port, timeout=timeout, max_file_size=max_file_size,
                             ssl=s.ssl, user=s.user, auth=s.auth, files=files)

    backends = {s.name: make_backend(s) for s in servers}

    def make_remote(mirror):
        if mirror.remote_cylc:
            return CylcBackend(mirror.remote_cylc, timeout=timeout)
        return EcflowBackend(mirror.remote_host, mirror.remote_port, timeout=timeout, ssl=mirror.ssl,
                             auth=mirror.remote_auth)

    logging.getLogger("wffs").info("mounting %s at %s", ", ".join(b.name for b in backends.values()), mnt)
    try:
        serve(backends, os.path.abspath(mnt), single=not config_file, refresh=refresh, timeout=timeout,
              options=options, make_remote=make_remote, read_only=read_only,
              disk_cache=disk_cache, script_age=script_age, fast_open=fast_open, fsname="wffs:" + (servers[0].name if not config_file else os.path.basename(config_file)))
    except MountFailed as e:
        raise click.ClickException(f"mount did not come up: {e} (libfuse's reason is just above)") from None


def load_servers(config_file: str) -> list:
    try:
        return config.load(config_file)
    except config.ConfigError as e:
        raise click.ClickException(str(e)) from None


def prepare_mountpoint(mnt: str, options=()) -> None:
    """A dead mount left by a killed wffs is cleaned up; then whatever would stop the mount from coming
    up is said in one line (exit 1), before anything starts."""
    if mount_table.is_dead(mnt):
        click.echo(f"wffs: cleaning up a dead mount at {mnt}", err=True)
        mount_table.unmount(mnt, lazy=True)
    try:
        preflight.check(mnt, options)
    except preflight.CannotMount as e:
        raise click.ClickException(str(e)) from None


def background(mnt: str, log_file: str | None, timeout: float) -> None:
    """Run this same command with --foreground in a new session and wait until its mount answers (it may
    wait first_view_limit for a slow server's first view; starting Python and the mount take the rest).

    A child process rather than a fork: FUSE and trio start threads, which do not survive a fork.
    """
    from wffs.mount import first_view_limit

    log_file = log_file or default_log_file(mnt)
    argv = [sys.executable, "-m", "wffs.cli"] + sys.argv[1:] + ["--foreground", "--log", log_file]
    try:
        with open(os.devnull, "rb") as devnull, open(log_file, "ab") as log:
            start = log.seek(0, os.SEEK_END)
            child = subprocess.Popen(argv, stdin=devnull, stdout=log, stderr=log, start_new_session=True)
    except OSError as e:
        raise click.ClickException(f"cannot write the log {log_file} ({e.strerror}): give --log FILE") from None
    if mount_table.wait_mounted(mnt, timeout=first_view_limit(timeout) + 30, alive=lambda: child.poll() is None):
        return
    if child.poll() is None:
        child.terminate()
    raise click.ClickException(f"mount did not come up: {failure_reason(log_file, start)} (the log: {log_file})")


#: lines that libfuse and its helper write to stderr (the log, in the background) when a mount fails
FUSE_SAYS = ("fusermount3:", "fusermount:", "fuse:")


def failure_reason(log_file: str, start: int) -> str:
    """One line for why the mount process gave up: what fusermount3 or libfuse said, else wffs's own
    last error, else the last line it wrote."""
    try:
        with open(log_file, "rb") as f:
            f.seek(start)
            lines = [line.strip() for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    for wanted in (lambda line: line.startswith(FUSE_SAYS), lambda line: " ERROR " in line):
        found = [line for line in lines if wanted(line)]
        if found:
            return found[-1].split(" ERROR ", 1)[-1]
    return lines[-1] if lines else "the mount process ended without a word"


@main.command()
@click.argument("mountpoint", type=click.Path())
@click.option("-z", "--lazy", is_flag=True, help="Detach now even if busy (fusermount -z).")
def umount(mountpoint, lazy):
    """Unmount a wffs mount (its process then exits)."""
    if not mount_table.is_mounted(mountpoint):
        raise click.ClickException(f"{mountpoint} is not mounted")
    failed = mount_table.try_unmount(mountpoint, lazy=lazy)
    if failed is not None:
        hint = "" if lazy else f"; if it is busy: wffs umount --lazy {mountpoint}"
        raise click.ClickException(f"{mountpoint} is still mounted ({failed}){hint}")
    time.sleep(0.1)


if __name__ == "__main__":
    main()
