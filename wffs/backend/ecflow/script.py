"""A task's manual, taken from its script on disk when that gives exactly what the server would send.

`ecflow_client --file PATH manual` makes the server pre-process the script (includes, comments) and
return the lines between `%manual` and `%end`, with variables substituted.  Asking the server costs a
request per task; reading the script here costs nothing, but only a simple script can be read without
re-implementing the pre-processor.  So `manual_of` answers only when it is sure: no other directives
than %manual, %end, %comment and %include of files that have no directives themselves, no `%` inside
the manual (no variables to substitute), and every section closed.  Otherwise it returns None and the
caller asks the server.  (Checked against ecFlow 5.9.2: CRLF lines and trailing blanks on directive
lines are kept as the server keeps them.)
"""

from __future__ import annotations

import functools
import os
import re
from typing import Iterable, Optional

#: `%word` at the start of a line (after blanks) is a directive when word is one of these.
DIRECTIVES = {b"manual", b"end", b"comment", b"include", b"includenopp", b"includeonce", b"nopp",
              b"ecfmicro"}
DIRECTIVE = re.compile(rb"^\s*%([a-z]+)\b\s*(.*?)\s*$")


def directive(line: bytes) -> tuple[Optional[bytes], bytes]:
    """(name, argument) of a directive line, (None, b'') for any other line."""
    m = DIRECTIVE.match(line)
    if not m or m.group(1) not in DIRECTIVES:
        return None, b""
    return m.group(1), m.group(2)


@functools.lru_cache(maxsize=4096)
def include_candidates(argument: bytes, script_dir: str, include_dirs: tuple, ecf_home: str) -> tuple:
    """Every file an `%include` could name (the server picks one of them; all must be harmless)."""
    arg = argument.decode("utf-8", "surrogateescape")
    if arg[:1] in "<\"" and arg[-1:] in ">\"":
        arg = arg[1:-1]
    if os.path.isabs(arg):
        return (arg,)
    dirs = [*include_dirs, ecf_home, script_dir]
    return tuple(os.path.join(d, arg) for d in dirs if d)


def harmless_include(paths) -> bool:
    """True if every existing candidate has no directive at all (so it adds nothing to a manual)."""
    found = False
    for path in paths:
        verdict = _has_directives(path)
        if verdict is None:
            continue
        found = True
        if verdict:
            return False
    return found


_checked: dict = {}  # path -> ((mtime_ns, size), has directives): include files are shared by many tasks


def _has_directives(path: str) -> Optional[bool]:
    """Whether an include file holds directives; None if there is no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _checked.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        with open(path, "rb") as f:
            verdict = any(directive(line)[0] for line in f.read().split(b"\n"))
    except OSError:
        return None
    _checked[path] = (stamp, verdict)
    return verdict


def manual_of(script: bytes, *, script_dir: str, include_dirs: Iterable[str], ecf_home: str,
              micro: str = "%") -> Optional[bytes]:
    """The manual exactly as the server would return it, or None when only the server can tell."""
    parsed = parse(script) if micro == "%" else None
    if parsed is None or not includes_harmless(parsed[1], script_dir=script_dir, include_dirs=include_dirs,
                                               ecf_home=ecf_home):
        return None
    return parsed[0]


def includes_harmless(includes: Iterable[bytes], *, script_dir: str, include_dirs: Iterable[str],
                      ecf_home: str) -> bool:
    """Whether every `%include` argument names only files without directives (nothing for a manual)."""
    return IncludeCheck().harmless(includes, script_dir=script_dir, include_dirs=include_dirs, ecf_home=ecf_home)


class IncludeCheck:
    """includes_harmless for one pass over many scripts (a sync): the scripts of a suite share a few
    include files, which are looked at once per pass instead of once per script (at 10,000 tasks,
    60,000 stats of the same few files)."""

    def __init__(self):
        self._verdicts: dict[tuple, bool] = {}  # candidate paths of one %include -> harmless

    def harmless(self, includes: Iterable[bytes], *, script_dir: str, include_dirs: Iterable[str],
                 ecf_home: str) -> bool:
        include_dirs = tuple(include_dirs)
        for argument in includes:
            paths = include_candidates(argument, script_dir, include_dirs, ecf_home)
            verdict = self._verdicts.get(paths)
            if verdict is None:
                verdict = self._verdicts[paths] = harmless_include(paths)
            if not verdict:
                return False
        return True


def parse(script: bytes) -> Optional[tuple[bytes, tuple[bytes, ...]]]:
    """What the script alone says: (its manual, the arguments of its `%include`s) when it holds only
    directives a manual can be taken past, else None.  Whether the includes are harmless is the
    caller's to check (includes_harmless): they are other files, which can change on their own."""
    manual, includes, section = [], [], None  # section: None, b"manual" or b"comment"
    for line in script.split(b"\n"):
        name, argument = directive(line)
        if name is None:
            if section == b"manual":
                if b"%" in line:
                    return None  # the server would substitute variables here
                manual.append(line + b"\n")
            continue
        if name == b"end":
            if section is None:
                return None
            section = None
        elif name in (b"manual", b"comment"):
            if section is not None:
                return None
            section = name
        elif name == b"include" and section is None:
            includes.append(argument)
        else:
            return None
    if section is not None:
        return None  # the server refuses an unterminated section
    return b"".join(manual), tuple(includes)
