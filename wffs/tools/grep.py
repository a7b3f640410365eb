"""wffs-grep: grep the job outputs (or scripts, jobs, manuals) of the nodes in a given state.

    wffs-grep ERROR MNT --state abo        /suite/family/task:12:ERROR: ...   (like grep -rn)
    wffs-grep ERROR MNT --state abo --list /suite/family/task

Faster than `grep -r` over the mount: MNT/.server/nodes lists every node with its state and status file,
so one read tells which nodes are in the state, and only their files are opened (no walk of the tree).  PATTERN is a Python regular expression (re), matched against each line's bytes.
Exit status as grep's: 0 a line matched, 1 none did, 2 an error (and the other files were searched).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from wffs import layout
from wffs.tools.tree_walk import server_roots, state_code

SEARCHABLE = (*layout.TASK_FILE_KINDS, layout.ATT, layout.DEF, layout.WHY)


def nodes(mnt: Path, suites=()):
    """(node label, status code, path below MNT without the extension) of every node, from .server/nodes
    (one read per server: no walk of the tree)."""
    for prefix, server in server_roots(str(mnt)):
        with open(os.path.join(mnt, prefix, layout.SERVER_DIR, "nodes"), "rb") as f:
            text = f.read().decode("utf-8", "surrogateescape")
        for line in text.splitlines():
            path, _state, _kind, status_file = line.split("\t")
            if suites and path.split("/")[1] not in suites:
                continue
            stem, _, code = status_file.rpartition(".")
            yield (f"{server}:{path}" if server else path), code, os.path.join(prefix, stem)


def search(mnt: Path, pattern: re.Pattern, states=(), suites=(), kinds=("out",), list_only=False,
           out=sys.stdout.buffer, err=sys.stderr) -> int:
    errors = []
    found = False
    for node, code, stem in sorted(nodes(mnt, suites)):
        if states and code not in states:
            continue
        for kind in kinds:
            rel = f"{stem}.{kind}"
            label = (node if len(kinds) == 1 else f"{node}.{kind}").encode("utf-8", "surrogateescape")
            try:
                with open(os.path.join(mnt, rel), "rb") as f:
                    for number, line in enumerate(f, 1):
                        if pattern.search(line):
                            found = True
                            if list_only:
                                out.write(label + b"\n")
                                break
                            out.write(b"%s:%d:%s" % (label, number, line if line.endswith(b"\n") else line + b"\n"))
            except FileNotFoundError:
                continue  # this node has no such file (a family, a task that never ran)
            except OSError as e:
                errors.append(f"{rel}: {e.strerror}")
    out.flush()
    for e in errors:
        print(f"wffs-grep: {e}", file=err)
    return 2 if errors else (0 if found else 1)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("pattern")
@click.argument("mnt", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Only nodes in this state: que sub act com abo sus unk, or the full name (repeatable).")
@click.option("--suite", "suites", multiple=True, metavar="NAME", help="Only this suite (repeatable).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(SEARCHABLE),
              help="Which file of each node to search (repeatable) [default: out].")
@click.option("-l", "--list", "list_only", is_flag=True, help="Print only the paths of the nodes that match.")
@click.option("-i", "--ignore-case", is_flag=True)
def main(pattern, mnt, states, suites, kinds, list_only, ignore_case):
    """Print NODE:LINE-NUMBER:LINE for each line of the job outputs (or --kind) of the nodes under the
    wffs mount MNT that matches PATTERN (a Python regular expression)."""
    try:
        codes = {state_code(s) for s in states}
        regex = re.compile(pattern.encode("utf-8", "surrogateescape"), re.IGNORECASE if ignore_case else 0)
    except (ValueError, re.error) as e:
        raise click.UsageError(str(e)) from None
    try:
        sys.exit(search(mnt, regex, codes, suites, kinds or ("out",), list_only))
    except NotADirectoryError as e:
        click.echo(f"wffs-grep: {e}", err=True)
        sys.exit(2)
    except BrokenPipeError:  # `| head`
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    main()
