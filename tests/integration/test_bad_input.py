"""Bad input (hardening): odd node names, odd paths and file operations that make no sense, on real mounts.

Three parts:

* node names as ecFlow allows them (dots, underscores, digits: ``t.1``, ``_x``, ``0``, ``a.b.c``), loaded
  into a real server: the mount shows one status file per node with the server's state, a readable
  ``.att``, and ``find`` reaches every node;
* lookups of names that are not there (spaces, newlines, unicode, bytes that are not UTF-8, 255 and more
  bytes, ``..``-like names, ``*.que``, the right stem with a wrong extension): ENOENT (or the kernel's
  ENAMETOOLONG / ENOTDIR), and the mount keeps answering;
* every change a read-only file system refuses, on every kind of entry: EROFS from wffs (or the errno the
  kernel gives before it asks wffs), the mount stays up and ``ecflow_client --get`` is byte-identical.

Every call on a mount runs in a subprocess with a deadline (`probe`, `run`), so a hung mount fails the test.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wffs import layout
from testbed.devserver import EcflowServer

from .mounting import Mount, run, wait_until

pytestmark = pytest.mark.timeout(300)

# ---- one subprocess runs a batch of file operations on the mount and says what each gave ---------------
PROBE = r"""
import json, os, stat, sys

def p(x):
    return bytes.fromhex(x)

def opened(flags):
    def op(path):
        os.close(os.open(p(path), flags, 0o644))
    return op

def read(path):
    with open(p(path), "rb") as f:
        return f.read()

OPS = {
    "stat": lambda a: os.stat(p(a)),
    "listdir": lambda a: sorted(os.listdir(p(a))),
    "read": read,
    "open_w": opened(os.O_WRONLY),
    "open_rw": opened(os.O_RDWR),
    "open_append": opened(os.O_WRONLY | os.O_APPEND),
    "open_trunc": opened(os.O_WRONLY | os.O_TRUNC),
    "open_ro_trunc": opened(os.O_RDONLY | os.O_TRUNC),
    "create": opened(os.O_WRONLY | os.O_CREAT),
    "create_excl": opened(os.O_WRONLY | os.O_CREAT | os.O_EXCL),
    "truncate": lambda a: os.truncate(p(a), 0),
    "unlink": lambda a: os.unlink(p(a)),
    "mkdir": lambda a: os.mkdir(p(a)),
    "rmdir": lambda a: os.rmdir(p(a)),
    "rename": lambda a, b: os.rename(p(a), p(b)),
    "link": lambda a, b: os.link(p(a), p(b)),
    "symlink": lambda a: os.symlink(b"somewhere", p(a)),
    "mkfifo": lambda a: os.mkfifo(p(a)),
    "mknod": lambda a: os.mknod(p(a), stat.S_IFREG | 0o644),
    "chmod": lambda a: os.chmod(p(a), 0o777),
    "chown": lambda a: os.chown(p(a), os.getuid(), os.getgid()),
    "utime": lambda a: os.utime(p(a), (0, 0)),
    "touch": lambda a: os.utime(p(a)),
    "setxattr": lambda a: os.setxattr(p(a), "user.wffs", b"x"),
    "setxattr_trusted": lambda a: os.setxattr(p(a), "trusted.wffs", b"x"),
    "removexattr": lambda a: os.removexattr(p(a), "user.wffs"),
    "getxattr": lambda a: os.getxattr(p(a), "user.wffs"),
    "listxattr": lambda a: os.listxattr(p(a)),
}

def access(mode):
    def op(path):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.access(p(path), mode) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    return op

OPS["access_r"] = access(os.R_OK)
OPS["access_w"] = access(os.W_OK)

def plain(value):
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, os.stat_result):
        return [stat.S_IFMT(value.st_mode), value.st_size]
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value

out = []
for op, *args in json.loads(sys.argv[1]):
    try:
        out.append(["ok", plain(OPS[op](*args))])
    except OSError as e:
        out.append([e.errno, None])
print(json.dumps(out))
"""

OK = "ok"


def hexed(path) -> str:
    return os.fsencode(path).hex()


def probe(calls, timeout: float = 30) -> list:
    """[(op, path, ...)] -> [(errno or "ok", value)], run in one subprocess with a deadline."""
    spec = [[op, *(hexed(a) for a in args)] for op, *args in calls]
    done = run([sys.executable, "-c", PROBE, json.dumps(spec)], timeout=timeout)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [tuple(r) for r in json.loads(done.stdout)]


def outcomes(calls) -> dict:
    """{label: errno name or "ok"} of labelled calls [(label, op, path, ...)]."""
    results = probe([c[1:] for c in calls])
    return {c[0]: name(r[0]) for c, r in zip(calls, results)}


def name(code) -> str:
    return code if code == OK else errno.errorcode.get(code, str(code))


def assert_alive(mount: Mount, known_file: str) -> None:
    """The mount process runs and still answers: the root lists and a known file reads."""
    assert mount.proc.poll() is None, mount.log_text()
    (listed, _), (read, data) = probe([("listdir", mount.path), ("read", mount.path / known_file)])
    assert listed == OK and read == OK and data, mount.log_text()


# ---- a mount of the demo server of our own (a crash here cannot break the shared demo mount) ------------
@pytest.fixture(scope="module")
def demo(demo_server, tmp_path_factory):
    with Mount.start(demo_server.port, tmp_path_factory.mktemp("bad-input") / "mnt") as mount:
        yield demo_server, mount


STATUS = "demo/ok/t1.com"  # a file known to exist in the demo (checked below, so the tests mean something)


def test_the_demo_entries_used_here_exist(demo):
    _server, mount = demo
    paths = [STATUS, *(p for pair in FILES.values() for p in pair), *DIRS.values()]
    found = probe([("stat", mount.path / p) for p in paths])
    assert [r[0] for r in found] == [OK] * len(paths), dict(zip(paths, found))


# ---- part b: names that are not there ----------------------------------------------------------------------
ODD_NAMES = [
    "t1 .com", " t1.com", "t1.com ", "t 1.com", "t1.com\n", "t1\n.com", "\n", " ", "\t",
    "t1.cöm", "ü", "t1.com\u200b", "\u202et1.com", "t1.c\u00f6m", "\U0001f600.com", "t1.co\u0301m",
    b"t1\xff.com", b"\xff", b"\xc3\x28", b"\xed\xa0\x80.com", b"t1.com\x80", b"\xfe\xfe.que",
    "...", "....", ". .", ".. ", "..t1.com", ".t1.com", "t1.", "t1..com", "t1.com.", "t1.com..",
    "*.com", "*.que", "*", "?1.com", "t?.com", "t1.c*", "[t]1.com", "t1.{com,que}",
    "T1.com", "t1.COM", "t1.Com", "t1.abo", "t1.que", "t1.sus", "t1.unk", "t1.xyz", "t1.com.att",
    "t1.ecf.out", "t1.mirror", "t1.why", "t1.def", "t1", "t1.c", "t1.comm", "ok.ecf", "ok.out",
    "t1.com~", "t1.com.swp", ".t1.com.swp", "#t1.com#", "t1.att.com", "\\t1.com", "t1.com\\",
    "x" * 255, "t1." + "c" * 252, "x" * 253 + "\u00e9",
]


@pytest.mark.parametrize("odd", ODD_NAMES, ids=[repr(n)[:40] for n in ODD_NAMES])
def test_odd_names_are_not_found(demo, odd):
    """A name in a directory that holds t1.com, t1.att, t1.ecf...: ENOENT, and nothing else happens."""
    _server, mount = demo
    here = mount.path / "demo/ok"
    name_bytes = odd if isinstance(odd, bytes) else odd.encode()
    assert len(name_bytes) <= 255
    result = outcomes([("stat", "stat", os.fsencode(here) + b"/" + name_bytes),
                       ("read", "read", os.fsencode(here) + b"/" + name_bytes),
                       ("listdir", "listdir", os.fsencode(here) + b"/" + name_bytes),
                       ("under", "stat", os.fsencode(here) + b"/" + name_bytes + b"/t1.com"),
                       ("at root", "stat", os.fsencode(mount.path) + b"/" + name_bytes),
                       ("in .server", "stat", os.fsencode(mount.path) + b"/.server/" + name_bytes)])
    assert result == dict.fromkeys(result, "ENOENT")
    assert_alive(mount, STATUS)


@pytest.mark.parametrize("path, expected", [
    ("demo/ok/t1.com/", "ENOTDIR"),  # a file used as a directory: the kernel's answer
    ("demo/ok/t1.com/x", "ENOTDIR"),
    ("demo/ok/t1.com/..", "ENOTDIR"),
    ("demo/ok/t1/x", "ENOENT"),  # a task without aliases has no directory
    ("demo/ok/t1.att/t1.com", "ENOTDIR"),
    (".server/status/x", "ENOTDIR"),
    (".server/status.com", "ENOENT"),
    (".server/.server", "ENOENT"),
    (".server/demo", "ENOENT"),
    ("demo/.server", "ENOENT"),
    ("demo/ok/.server/status", "ENOENT"),
    ("demo/ok/../ok/t1.com", OK),  # `..` is resolved by the kernel: the real file
    ("demo/./ok/t1.com", OK),
    ("demo/ok/" + "x" * 256, ("ENOENT", "ENAMETOOLONG")),  # past NAME_MAX (255): the kernel asks wffs
    ("demo/ok/t1." + "c" * 253, ("ENOENT", "ENAMETOOLONG")),
    ("demo/ok/" + "x" * 1025, ("ENOENT", "ENAMETOOLONG")),
    ("demo/ok/" + "x" * 4000, ("ENOENT", "ENAMETOOLONG")),
    ("demo/" + "ok/../" * 700 + "ok/t1.com", "ENAMETOOLONG"),  # past PATH_MAX
])
def test_odd_paths(demo, path, expected):
    _server, mount = demo
    got = outcomes([("stat", "stat", os.fsencode(mount.path) + b"/" + path.encode())])["stat"]
    assert got in ((expected,) if isinstance(expected, str) else expected)
    assert_alive(mount, STATUS)


NAME_BYTES = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.binary(min_size=240, max_size=1100),
    st.builds(lambda stem, ext: stem + b"." + ext,
              st.sampled_from([b"t1", b"t2", b"ok", b"t1.com", b"never"]),
              st.one_of(st.binary(max_size=6), st.sampled_from([c.encode() for c in layout.CODE_STATES]))),
).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_"))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(names=st.lists(NAME_BYTES, min_size=1, max_size=15))
@example(names=[b"x" * 255, b"x" * 256, b"x" * 1024, b"x" * 1025, b"\xff\xfe", b"t1.abo", b"t1.com\n"])
def test_any_name_that_is_not_listed_is_not_found(demo_listing, names):
    mount, here, listed = demo_listing
    calls = []
    for n in names:
        if n in listed or n in (b".", b".."):
            continue
        expected = "ENOENT" if len(n) <= 255 else ("ENOENT", "ENAMETOOLONG")  # see test_odd_paths
        calls.append((n, expected))
    results = probe([("stat", os.fsencode(here) + b"/" + n) for n, _ in calls]
                    + [("stat", mount.path / STATUS), ("listdir", here)])
    for (n, expected), (code, _value) in zip(calls, results):
        assert name(code) in ((expected,) if isinstance(expected, str) else expected), n
    assert results[-2][0] == OK  # the mount keeps answering, and lists what it listed
    assert results[-1] == (OK, sorted(x.hex() for x in listed))


@pytest.fixture(scope="module")
def demo_listing(demo):
    _server, mount = demo
    here = mount.path / "demo/ok"
    (code, names), = probe([("listdir", here)])
    assert code == OK
    listed = {bytes.fromhex(n) for n in names}
    assert b"t1.com" in listed and b"t1.att" in listed
    return mount, here, listed


# ---- part c: changes a read-only file system refuses ------------------------------------------------------
FILES = {  # kind -> (the file, another existing file of the same directory)
    "status": ("demo/ok/t1.com", "demo/ok/t2.att"),
    "suspended status": ("demo/hold/paused.sus", "demo/hold/paused.att"),
    "att": ("demo/ok/t1.att", "demo/ok/t1.com"),
    "ecf": ("demo/ok/t1.ecf", "demo/ok/t2.ecf"),
    "job": ("demo/ok/t2.job", "demo/ok/t1.job"),
    "out": ("demo/fail/crash.out", "demo/fail/crash.ecf"),
    "man": ("demo/ok/t1.man", "demo/ok/t1.ecf"),
    "why": ("demo/deps/never.why", "demo/deps/never.att"),
    "def": ("demo/ok.def", "demo/ok.att"),
    "suite status": ("demo.abo", "demo.att"),
    "server status": (".server/status", ".server/log"),
    "server stats": (".server/stats", ".server/status"),
    "server suites.def": (".server/suites.def", ".server/stats"),
    "server events": (".server/events", ".server/mirrors"),
    "server mirrors": (".server/mirrors", ".server/events"),
}
DIRS = {"suite": "demo", "family": "demo/ok", "server dir": ".server", "root": ""}
NOTSUP = errno.errorcode[errno.ENOTSUP]  # wffs has no extended attributes: reading them is not supported


def file_calls(mnt: Path, rel: str, sibling_rel: str) -> list:
    """Every change to an existing file, and what it must give."""
    f, sibling = mnt / rel, mnt / sibling_rel
    d = f.parent
    other = mnt / ("demo/fail" if not rel.startswith("demo/fail") else "demo/ok")
    return [
        ("open O_WRONLY", "open_w", f, "EROFS"),
        ("open O_RDWR", "open_rw", f, "EROFS"),
        ("open O_APPEND", "open_append", f, "EROFS"),
        ("open O_TRUNC", "open_trunc", f, "EROFS"),
        ("open O_RDONLY|O_TRUNC", "open_ro_trunc", f, "EROFS"),
        ("open O_CREAT (exists)", "create", f, "EROFS"),
        ("open O_CREAT|O_EXCL (exists)", "create_excl", f, "EEXIST"),  # the kernel: it exists
        ("truncate", "truncate", f, "EROFS"),
        ("unlink", "unlink", f, "EROFS"),
        ("rename in its directory", "rename", f, d / "renamed", "EROFS"),
        ("rename over a sibling", "rename", f, sibling, "EROFS"),
        ("rename over itself", "rename", f, f, OK),  # POSIX: a no-op; the kernel does not even ask wffs
        ("rename across directories", "rename", f, other / "renamed", "EROFS"),
        ("rename to the root", "rename", f, mnt / "renamed", "EROFS"),
        ("rename a sibling over it", "rename", sibling, f, "EROFS"),
        ("link in its directory", "link", f, d / "linked", "EROFS"),
        ("link across directories", "link", f, other / "linked", "EROFS"),
        ("link over a sibling", "link", f, sibling, "EEXIST"),  # the kernel: the new name exists
        ("symlink over it", "symlink", f, "EEXIST"),
        ("mkdir over it", "mkdir", f, "EEXIST"),
        ("mkfifo over it", "mkfifo", f, "EEXIST"),
        ("mknod over it", "mknod", f, "EEXIST"),
        ("mkdir under it", "mkdir", f / "x", "ENOTDIR"),
        ("rmdir", "rmdir", f, "ENOTDIR"),  # the kernel: not a directory
        ("chmod", "chmod", f, "EROFS"),
        ("chown", "chown", f, "EROFS"),
        ("utime", "utime", f, "EROFS"),
        ("touch", "touch", f, "EROFS"),
        ("setxattr user.", "setxattr", f, "EROFS"),
        ("setxattr trusted.", "setxattr_trusted", f, "EROFS"),
        ("removexattr", "removexattr", f, "EROFS"),
        ("getxattr", "getxattr", f, NOTSUP),
        ("listxattr", "listxattr", f, NOTSUP),
    ]


def dir_calls(mnt: Path, rel: str) -> list:
    """Every change to a directory (and to what is in it), and what it must give."""
    d = mnt / rel if rel else mnt
    inside = d / "new"
    calls = [
        ("open O_WRONLY", "open_w", d, "EISDIR"),  # the kernel: a directory is never opened for writing
        ("open O_RDWR", "open_rw", d, "EISDIR"),
        ("open O_CREAT (exists)", "create", d, "EISDIR"),
        ("open O_CREAT|O_EXCL (exists)", "create_excl", d, "EEXIST"),
        ("truncate", "truncate", d, "EISDIR"),
        ("create a file in it", "create", inside, "EROFS"),
        ("create a file in it, O_EXCL", "create_excl", d / "new.txt", "EROFS"),
        ("create a status file in it", "create", d / "new.que", "EROFS"),
        ("create a control file of no task", "create", d / "nosuchtask.mirror", "ENOENT"),
        ("mkdir in it", "mkdir", inside, "EROFS"),
        ("mkdir over it", "mkdir", d, "EEXIST"),
        ("symlink in it", "symlink", inside, "EROFS"),
        ("mkfifo in it", "mkfifo", inside, "EROFS"),
        ("mknod in it", "mknod", inside, "EROFS"),
        ("chmod", "chmod", d, "EROFS"),
        ("chown", "chown", d, "EROFS"),
        ("utime", "utime", d, "EROFS"),
        ("touch", "touch", d, "EROFS"),
        ("setxattr user.", "setxattr", d, "EROFS"),
        ("setxattr trusted.", "setxattr_trusted", d, "EROFS"),
        ("removexattr", "removexattr", d, "EROFS"),
        ("getxattr", "getxattr", d, NOTSUP),
        ("listxattr", "listxattr", d, NOTSUP),
    ]
    if rel:  # the mount point itself belongs to the file system it is mounted on
        other = mnt / (".server" if rel == "demo" else "demo/fail")  # not below d: that is "into itself"
        calls += [
            ("unlink", "unlink", d, "EISDIR"),  # the kernel (Linux): unlink of a directory
            ("rmdir", "rmdir", d, "EROFS"),
            ("rename in its directory", "rename", d, d.parent / "renamed", "EROFS"),
            ("rename across directories", "rename", d, other / "renamed", "EROFS"),
            ("rename into itself", "rename", d, d / "renamed", "EINVAL"),  # the kernel
            ("link", "link", d, d.parent / "linked", "EPERM"),  # the kernel: no hard links to directories
        ]
    return calls


def assert_refused(server, mount: Mount, calls: list) -> None:
    before = server.cli("--get").stdout
    listed_before = probe([("listdir", mount.path / "demo/ok"), ("listdir", mount.path)])
    got = outcomes([c[:-1] for c in calls])
    expected = {c[0]: c[-1] for c in calls}
    assert got == expected
    assert server.cli("--get").stdout == before  # nothing changed on the server
    assert probe([("listdir", mount.path / "demo/ok"), ("listdir", mount.path)]) == listed_before
    assert_alive(mount, STATUS)


@pytest.mark.parametrize("kind", FILES)
def test_changes_to_files_are_refused(demo, kind):
    server, mount = demo
    assert_refused(server, mount, file_calls(mount.path, *FILES[kind]))


@pytest.mark.parametrize("kind", DIRS)
def test_changes_to_directories_are_refused(demo, kind):
    server, mount = demo
    assert_refused(server, mount, dir_calls(mount.path, DIRS[kind]))


def test_access_for_writing_says_read_only(demo):
    """access(W_OK) on a file, as `test -w`, `rm` (its "write-protected" prompt) and editors ask it, must
    say what a write would give: EROFS, as on any read-only file system; reading stays allowed.
    (Directories are left out: the owner may create `<task>.mirror` control files in them.)"""
    server, mount = demo
    paths = [path for path, _sibling in FILES.values()]
    calls = [(f"{op} {p or '/'}", op, mount.path / p, want) for p in paths
             for op, want in (("access_r", OK), ("access_w", "EROFS"))]
    assert_refused(server, mount, calls)


def test_moving_files_in_from_elsewhere_is_refused(demo, tmp_path):
    """A rename or link between the mount and another file system: EXDEV (the kernel), in both directions;
    a copy tool then falls back to creating the file, which is EROFS."""
    server, mount = demo
    outside = tmp_path / "outside.que"
    outside.write_bytes(b"queued\n")
    calls = [
        ("rename in", "rename", outside, mount.path / "demo/ok/t9.que", "EXDEV"),
        ("rename over a status file", "rename", outside, mount.path / STATUS, "EXDEV"),
        ("rename out", "rename", mount.path / STATUS, tmp_path / "stolen", "EXDEV"),
        ("link in", "link", outside, mount.path / "demo/ok/t9.que", "EXDEV"),
        ("link out", "link", mount.path / STATUS, tmp_path / "stolen", "EXDEV"),
        ("copy in", "create", mount.path / "demo/ok/t9.que", "EROFS"),
    ]
    assert_refused(server, mount, calls)
    assert outside.read_bytes() == b"queued\n" and not (tmp_path / "stolen").exists()


def test_shell_redirections_and_tools_fail_cleanly(demo):
    """What an operator would type: each fails with the read-only message, nothing changes."""
    server, mount = demo
    before = server.cli("--get").stdout
    status = mount.path / STATUS
    commands = [
        ["sh", "-c", f"echo complete > '{status}'"],
        ["sh", "-c", f"echo x >> '{mount.path}/.server/status'"],
        ["touch", str(status)],
        ["touch", str(mount.path / "demo/ok/t1.abo")],
        ["mv", str(status), str(mount.path / "demo/ok/t1.abo")],
        ["cp", "/etc/hostname", str(mount.path / "demo/ok/t1.ecf")],
        ["rm", "-f", str(status)],
    ]
    for argv in commands:
        done = run(argv)
        assert done.returncode != 0, argv
        assert b"Read-only file system" in done.stderr, (argv, done.stderr)
    assert server.cli("--get").stdout == before
    assert_alive(mount, STATUS)


# ---- part a: node names as ecFlow allows them, on a real server ---------------------------------------------
ECFLOW_NAMES = st.one_of(
    st.sampled_from(["t.1", "_x", "0", "a.b.c", "x.", "_", "9.9", "a..b", "T_1.v2", "007", "_._"]),
    st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.]{0,12}\Z"),
)
EXTENSIONS = set(layout.CODE_STATES) | {layout.ATT, layout.DEF, layout.WHY, layout.MIRROR} \
    | set(layout.TASK_FILE_KINDS)
TASK_STATES = ["queued", "complete", "aborted", "active", "submitted", "unknown"]


def look_alike(names) -> bool:
    """Some sibling is named like another's file (`a` and `a.que`): see test_a_family_named_like_...
    below for what the mount does then; the property test here keeps to names that do not."""
    names = set(names)
    return any(f"{n}.{e}" in names for n in names for e in EXTENSIONS)


def node_lists(depth: int):
    task = st.tuples(st.just("task"), ECFLOW_NAMES, st.sampled_from(TASK_STATES), st.booleans(), st.just(()))
    kinds = [task]
    if depth > 0:
        kinds.append(st.tuples(st.just("family"), ECFLOW_NAMES, st.just(""), st.booleans(),
                               st.deferred(lambda: node_lists(depth - 1))))
    return st.lists(st.one_of(*kinds), max_size=3, unique_by=lambda n: n[1]).filter(
        lambda nodes: not look_alike(n[1] for n in nodes))


SUITES = st.lists(st.tuples(st.just("suite"), ECFLOW_NAMES, st.just(""), st.booleans(), node_lists(2)),
                  min_size=1, max_size=2, unique_by=lambda n: n[1]).filter(
    lambda suites: not look_alike(s[1] for s in suites))


def load_tree(server, suites) -> None:
    """Replace everything on the server by `suites` [(kind, name, task state, suspended, children)]: tasks
    never submitted (ECF_DUMMY_TASK), states forced, suspensions as asked."""
    import ecflow

    defs = ecflow.Defs()
    forced, suspended = [], []

    def add(parent, nodes, path):
        for kind, node_name, state, suspend, children in nodes:
            node = parent.add_task(node_name) if kind == "task" else parent.add_family(node_name)
            here = f"{path}/{node_name}"
            if kind == "task" and state != "queued":
                forced.append((here, state))
            if suspend:
                suspended.append(here)
            add(node, children, here)

    for _kind, suite_name, _state, suspend, children in suites:
        suite = defs.add_suite(suite_name)
        suite.add_variable("ECF_DUMMY_TASK", "")
        if suspend:
            suspended.append(f"/{suite_name}")
        add(suite, children, f"/{suite_name}")
    client = server.client()
    client.delete_all(True)
    client.load(defs)
    for suite_name in (s[1] for s in suites):
        client.begin_suite(suite_name)
    for path, state in forced:
        client.force_state(path, getattr(ecflow.State, state))
    for path in suspended:
        client.suspend(path)


def server_view(server) -> dict:
    """node path -> (kind, status extension, state underneath), from the server itself."""
    import ecflow

    client = server.client()
    client.sync_local()
    view = {}

    def walk(node):
        kind = ("suite" if isinstance(node, ecflow.Suite) else "family" if isinstance(node, ecflow.Family)
                else "task")
        view[node.get_abs_node_path()] = (kind, layout.STATE_CODES[str(node.get_dstate())], str(node.get_state()))
        for child in (node.nodes if kind != "task" else ()):
            walk(child)

    for suite in client.get_defs().suites:
        walk(suite)
    return view


def mount_view(mount: Mount, settled: bool = True) -> dict:
    """node path -> ("dir" or "file", the extensions of its status files, has an .att), from `find`.
    While the tree changes (`settled` False), a directory may go between listing and entering it: None."""
    done = run(["find", str(mount.path), "-mindepth", "1", "-path", f"{mount.path}/.server", "-prune", "-o",
                "-printf", "%y %P\\0"])
    if done.returncode != 0 and not settled:
        return None
    assert done.returncode == 0, done.stderr
    dirs, statuses, atts = set(), {}, set()
    for line in done.stdout.decode().split("\0")[:-1]:
        kind, rel = line.split(" ", 1)
        if kind == "d":  # a directory that would clash with a sibling's file ends with CLASH_MARK (docs/layout.rst)
            rel = rel.removesuffix(layout.CLASH_MARK)
        head, _, file_name = rel.rpartition("/")
        rel = "/".join([p.removesuffix(layout.CLASH_MARK) for p in head.split("/") if p] + [file_name])
        if kind == "d":
            dirs.add("/" + rel)
            continue
        head, _, file_name = rel.rpartition("/")
        stem, _dot, ext = file_name.rpartition(".")  # the extension is after the last dot (docs/layout.rst)
        node = "/" + "/".join(p for p in (head, stem) if p)
        if ext in layout.CODE_STATES:
            statuses.setdefault(node, []).append(ext)
        elif ext == layout.ATT:
            atts.add(node)
    return {node: ("dir" if node in dirs else "file", tuple(statuses.get(node, ())), node in atts)
            for node in dirs | atts | set(statuses)}


def listed_path(nodes: dict, path: str) -> str:
    """Where a node is below the mount point: its ancestors' directories as listed (layout.directory_name)."""
    parts = path.strip("/").split("/")
    listed = []
    for i, name in enumerate(parts[:-1]):
        parent = "/" + "/".join(parts[:i])
        siblings = {p.rpartition("/")[2] for p in nodes if (p.rpartition("/")[0] or "/") == parent}
        listed.append(layout.directory_name(name, siblings))
    return "/".join(listed + parts[-1:])


def expected_mount_view(nodes: dict) -> dict:
    return {path: ("file" if kind == "task" else "dir", (code,), True) for path, (kind, code, _s) in nodes.items()}


@pytest.fixture(scope="module")
def names_server(tmp_path_factory):
    server = EcflowServer(tmp_path_factory.mktemp("names") / "home")
    server.start()
    try:
        with Mount.start(server.port, tmp_path_factory.mktemp("names-mnt") / "mnt", refresh=0.2) as mount:
            yield server, mount
    finally:
        server.stop()


def assert_mount_shows(server, mount: Mount, timeout: float = 10) -> dict:
    """Within `timeout`, every node of the server shows with exactly one status file whose extension is
    its state, an .att that names it, its kind and its state, and nothing else shows."""
    nodes = server_view(server)
    expected = expected_mount_view(nodes)
    wait_until(lambda: mount_view(mount, settled=False) == expected, timeout)
    assert mount_view(mount) == expected
    paths = sorted(nodes)
    contents = probe([("read", mount.path / (listed_path(nodes, p) + ".att")) for p in paths])
    for path, (code, data) in zip(paths, contents):
        assert code == OK, path
        kind, _code, state = nodes[path]
        head = bytes.fromhex(data).decode().splitlines()[:3]
        assert head == [f"path {path}", f"kind {kind}", f"state {state}"]
    assert mount.proc.poll() is None, mount.log_text()
    return nodes


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(suites=SUITES)
@example(suites=[("suite", "s.1", "", False, [
    ("task", "t", "aborted", False, ()), ("task", "t.1", "complete", True, ()),
    ("task", "_x", "active", False, ()),
    ("task", "0", "submitted", False, ()), ("family", "a.b.c", "", False, [("task", "x.", "unknown", False, ())]),
    ("family", "f.v2", "", True, []), ("task", "t.1.1", "queued", False, ())])])
def test_every_node_has_one_status_file_with_the_servers_state(names_server, suites):
    server, mount = names_server
    load_tree(server, suites)
    nodes = assert_mount_shows(server, mount)
    assert {p for p in nodes if p.count("/") == 1} == {f"/{s[1]}" for s in suites}


@pytest.mark.parametrize("first, second", [("task", "family"), ("family", "task")])
def test_a_family_named_like_a_siblings_status_file_hides_nothing(names_server, first, second):
    """ecFlow allows a task `a` and a family `a.que` side by side; the mount must show both: a.que (the
    status file of the queued task a) and a.que~/ (the family, with its task x; docs/layout.rst, name clashes)."""
    server, mount = names_server
    nodes = {"task": ("task", "a", "queued", False, ()), "family": ("family", "a.que", "", False,
                                                                   [("task", "x", "complete", False, ())])}
    load_tree(server, [("suite", "s", "", False, [nodes[first], nodes[second]])])
    assert set(server_view(server)) == {"/s", "/s/a", "/s/a.que", "/s/a.que/x"}
    assert_mount_shows(server, mount, timeout=5)
