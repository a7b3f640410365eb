"""wffs-backup: a dated, restorable copy of what a wffs mount shows, and a check of such a copy.

    wffs-backup MNT DEST          DEST/<date>T<time>/ (+ MANIFEST.tsv, DEST/latest -> it)
    wffs-backup --verify BACKUP   re-read BACKUP/MANIFEST.tsv: sizes and sha256 of every file

The copy is made by rsync with --link-dest to the previous backup and --checksum, so a file whose bytes
did not change is a hard link to the previous copy (no space), whatever its mtime.  It is written under
DEST/.in-progress-<stamp> and renamed at the end: a backup under its final name is always whole.
Interrupted (SIGINT, SIGTERM), the half-written copy is removed; one that could not read every file is
kept as DEST/<stamp>.incomplete with FAILED.tsv, and the command exits 1 naming the files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import click

from wffs.tools.tree_walk import KINDS, walk

MANIFEST = "MANIFEST.tsv"
FAILED = "FAILED.tsv"
LATEST = "latest"
IN_PROGRESS = ".in-progress-"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}(\.\d+)?$")
#: rsync's words for a file it could not read (the mount answers EIO for a file the server cannot give)
RSYNC_FAILED = re.compile(r'^rsync: \[sender\] (?:send_files failed to open|read errors mapping|link_stat) "([^"]+)"')


class Interrupted(Exception):
    pass


def complete_backups(dest: Path) -> list[Path]:
    """Finished backups in DEST, oldest first."""
    if not dest.is_dir():
        return []
    return sorted(p for p in dest.iterdir() if STAMP.match(p.name) and (p / MANIFEST).is_file())


def new_stamp(dest: Path) -> str:
    stamp = time.strftime("%Y-%m-%dT%H%M%S")
    n, candidate = 1, stamp
    while (dest / candidate).exists() or (dest / f"{candidate}.incomplete").exists():
        n += 1
        candidate = f"{stamp}.{n}"
    return candidate


def remove_tree(path: Path) -> None:
    """A backup's directories are kept writable by their owner, its files read-only: both go."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, onerror=lambda fn, p, exc: (os.chmod(os.path.dirname(p), 0o755), fn(p)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_rsync(mnt: Path, target: Path, previous: Optional[Path], files: list[str], progress: bool) -> tuple:
    """(exit code, the paths rsync could not read, its other error lines)."""
    argv = ["rsync", "-a", "--checksum", "--chmod=Du+rwx", "--files-from=-", "--from0"]
    if previous is not None:
        argv.append(f"--link-dest={previous.resolve()}")
    if progress:
        argv.append("--info=progress2")
    argv += [f"{mnt}/", f"{target}/"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=None if progress else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate("\0".join(files).encode("utf-8", "surrogateescape"))
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)  # rsync forks a receiver: all of them, before the copy goes
        proc.wait()
        raise
    failed, other = [], []
    for line in err.decode(errors="replace").splitlines():
        m = RSYNC_FAILED.match(line)
        if m:
            failed.append(os.path.relpath(m.group(1), mnt) if os.path.isabs(m.group(1)) else m.group(1))
        elif line.strip() and not line.startswith("rsync error: some files"):
            other.append(line)
    return proc.returncode, failed, other


def write_manifest(target: Path, listed: dict) -> tuple:
    """MANIFEST.tsv of what is in the copy: (files, bytes, files stored anew)."""
    files = total = fresh = 0
    with open(target / MANIFEST, "w", encoding="utf-8", errors="surrogateescape") as out:
        out.write("path\tstate\tsize\tsha256\n")
        for rel in sorted(listed):
            path = target / rel
            if not path.is_file():
                continue  # could not be read: in FAILED.tsv
            st = path.stat()
            out.write(f"{rel}\t{listed[rel].state}\t{st.st_size}\t{sha256_of(path)}\n")
            files, total = files + 1, total + st.st_size
            fresh += st.st_nlink == 1
    return files, total, fresh


def backup(mnt: Path, dest: Path, suites=(), kinds=KINDS, keep: int = 0, verbose: bool = False,
           progress: bool = False) -> int:
    started = time.monotonic()
    dest.mkdir(parents=True, exist_ok=True)
    for leftover in dest.glob(IN_PROGRESS + "*"):  # of a run that was killed
        remove_tree(leftover)
    previous = complete_backups(dest)[-1:] or [None]
    stamp = new_stamp(dest)
    work = dest / f"{IN_PROGRESS}{stamp}"
    try:
        for attempt in range(3):  # a state change renames a status file between the walk and the copy
            remove_tree(work)
            work.mkdir()
            unreadable = []
            listed = {f.rel: f for f in walk(str(mnt), suites, on_error=lambda d, e: unreadable.append((d, e)),
                                             kinds=set(kinds))}
            code, failed, other = run_rsync(mnt, work, previous[0], sorted(listed), progress)
            if code != 24:
                break
        files, total, fresh = write_manifest(work, listed)
    except BaseException:
        remove_tree(work)
        raise
    for directory, error in unreadable:
        click.echo(f"wffs-backup: cannot list {directory}: {error.strerror}", err=True)
    if code == 24:
        click.echo(f"wffs-backup: the tree kept changing during 3 copies: files that vanished meanwhile are "
                   f"not in {dest / stamp}", err=True)
    if code not in (0, 23, 24) or other and code != 0:
        for line in other:
            click.echo(f"wffs-backup: {line}", err=True)
    problems = sorted(set(failed)) + [f"{d} (cannot list)" for d, _ in unreadable]
    if code not in (0, 24) or problems:  # 24: a file vanished (a state change renamed it): not an error
        final = dest / f"{stamp}.incomplete"
        with open(work / FAILED, "w") as out:
            out.writelines(f"{p}\n" for p in problems)
        work.rename(final)
        click.echo(f"wffs-backup: {len(problems)} file(s) could not be read (rsync exit {code}); the copy is "
                   f"kept as {final}, not as a backup:", err=True)
        for p in problems[:20]:
            click.echo(f"  {p}", err=True)
        return 1
    final = dest / stamp
    work.rename(final)
    latest = dest / LATEST
    if latest.is_symlink() or not latest.exists():
        tmp = dest / f".{LATEST}.new"
        remove_tree(tmp)
        tmp.symlink_to(stamp)
        tmp.replace(latest)
    for old in complete_backups(dest)[:-keep] if keep > 0 else []:
        remove_tree(old)
    if verbose:
        click.echo(f"wffs-backup: {final}: {files} files, {total / 1e6:.1f} MB, {fresh} stored anew, "
                   f"{files - fresh} hard-linked to {previous[0].name if previous[0] else '-'}, "
                   f"{time.monotonic() - started:.1f} s")
    return 0


def verify(path: Path, verbose: bool = False) -> int:
    """Every file of the manifest there with its size and sha256, and no file that is not in it."""
    if (path / LATEST).is_dir() and not (path / MANIFEST).exists():
        path = (path / LATEST).resolve()  # DEST given: its latest backup
    manifest = path / MANIFEST
    if not manifest.is_file():
        click.echo(f"wffs-backup: {path}: no {MANIFEST}: not a backup made by wffs-backup", err=True)
        return 2
    problems, known, count = [], set(), 0
    with open(manifest, encoding="utf-8", errors="surrogateescape") as f:
        next(f)
        for line in f:
            rel, _state, size, digest = line.rstrip("\n").split("\t")
            known.add(rel)
            count += 1
            p = path / rel
            if not p.is_file():
                problems.append(f"{rel}: missing")
            elif p.stat().st_size != int(size):
                problems.append(f"{rel}: {p.stat().st_size} bytes, the manifest says {size}")
            elif sha256_of(p) != digest:
                problems.append(f"{rel}: content differs from the manifest (sha256)")
    for top, _dirs, names in os.walk(path):
        for name in names:
            rel = os.path.relpath(os.path.join(top, name), path)
            if rel not in known and rel not in (MANIFEST, FAILED):
                problems.append(f"{rel}: not in the manifest")
    for p in problems:
        click.echo(f"wffs-backup: {path}: {p}", err=True)
    if verbose and not problems:
        click.echo(f"wffs-backup: {path}: {count} files verified")
    return 1 if problems else 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("mnt", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--verify", "verify_path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Check a backup (or DEST's latest) against its manifest, and exit.")
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="Only this suite (repeatable).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS),
              help="Only these files (repeatable) [default: all].")
@click.option("--keep", default=0, type=click.IntRange(0), help="Keep only the last N backups in DEST.")
@click.option("-v", "--verbose", is_flag=True, help="A one-line summary on success.")
@click.option("--progress/--no-progress", default=None, help="rsync's progress bar [default: on a terminal].")
def main(mnt, dest, verify_path, suites, kinds, keep, verbose, progress):
    """Back up what the wffs mount MNT shows into DEST/<date>T<time>/, hard-linking unchanged files to
    the previous backup; or check one with --verify.  Quiet on success (for cron); exit 1 if a file
    could not be read."""
    if verify_path is not None:
        if mnt or dest:
            raise click.UsageError("--verify takes only the backup to check")
        sys.exit(verify(verify_path, verbose))
    if mnt is None or dest is None:
        raise click.UsageError("expected MNT DEST (or --verify BACKUP)")
    if shutil.which("rsync") is None:
        raise click.ClickException("rsync is not installed")
    if progress is None:
        progress = sys.stdout.isatty()

    def interrupted(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    try:
        sys.exit(backup(mnt.resolve(), dest.resolve(), suites, kinds or KINDS, keep, verbose, progress))
    except Interrupted as e:
        click.echo(f"wffs-backup: {e}: stopped; no backup was made", err=True)
        sys.exit(130)
    except (OSError, NotADirectoryError) as e:
        raise click.ClickException(str(e)) from None


if __name__ == "__main__":
    main()
