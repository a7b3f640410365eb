"""wffs.layout: the file-system shape (docs/layout.rst) as pure functions."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wffs import layout
from wffs.layout import Kind, Name

NODE_NAMES = st.text(alphabet="ABCXYZabcxyz0189_.", min_size=1, max_size=30)


# ---- status codes and text --------------------------------------------------------------------------
@pytest.mark.parametrize("state, code", [
    ("unknown", "unk"), ("queued", "que"), ("submitted", "sub"), ("active", "act"),
    ("complete", "com"), ("aborted", "abo"),
])
def test_status_code_per_state(state, code):
    assert layout.status_code(state) == code
    assert layout.status_code(state, False) == code


@pytest.mark.parametrize("state", ["unknown", "queued", "submitted", "active", "complete", "aborted"])
def test_suspended_wins(state):
    assert layout.status_code(state, True) == "sus"


def test_unrecognised_state_is_unknown():
    assert layout.status_code("halted") == "unk"
    assert layout.status_code("") == "unk"


def test_codes_are_three_letters_and_invertible():
    assert len(set(layout.STATE_CODES.values())) == len(layout.STATE_CODES)
    assert all(len(c) == 3 for c in layout.STATE_CODES.values())
    for state, code in layout.STATE_CODES.items():
        assert layout.CODE_STATES[code] == state


def test_status_text():
    assert layout.status_text("aborted") == b"aborted\n"
    assert layout.status_text("aborted", False) == b"aborted\n"
    assert layout.status_text("aborted", True) == b"suspended (aborted)\n"
    assert layout.status_text("complete", True).splitlines()[0] == b"suspended (complete)"
    assert isinstance(layout.status_text("queued"), bytes)


# ---- extensions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("file_name, expected", [
    ("t.que", ("t", "que")),
    ("t.v2.que", ("t.v2", "que")),
    ("a.b.c.att", ("a.b.c", "att")),
    ("noext", ("noext", "")),
    ("trailing.", ("trailing", "")),
    (".server", ("", "server")),
])
def test_split_extension_examples(file_name, expected):
    assert layout.split_extension(file_name) == expected


@given(name=NODE_NAMES, code=st.sampled_from(sorted(layout.CODE_STATES) + ["att", "ecf", "job", "out", "man"]))
def test_split_extension_inverts_naming(name, code):
    assert layout.split_extension(f"{name}.{code}") == (name, code)


@given(name=NODE_NAMES, state=st.sampled_from(sorted(layout.STATE_CODES)), suspended=st.booleans())
def test_status_file_name_parses_back(name, state, suspended):
    names = layout.node_names("/s", name, is_task=True, state=state, suspended=suspended)
    status = [n for n in names if n.kind is Kind.STATUS]
    assert len(status) == 1
    stem, code = layout.split_extension(status[0].name)
    assert stem == name
    assert code == layout.status_code(state, suspended)
    assert layout.CODE_STATES[code] == ("suspended" if suspended else state)


# ---- paths ------------------------------------------------------------------------------------------
def test_child_path_and_dir_node_path():
    assert layout.child_path("/", "s") == "/s"
    assert layout.child_path("/s", "f") == "/s/f"
    assert layout.child_path("/s/", "f") == "/s/f"
    assert layout.dir_node_path([]) == "/"
    assert layout.dir_node_path(()) == "/"
    assert layout.dir_node_path(["s", "f", "t.v2"]) == "/s/f/t.v2"
    assert layout.dir_node_path(iter(["s"])) == "/s"


# ---- the names of one node --------------------------------------------------------------------------
def test_suite_names():
    names = layout.node_names("/", "s", is_task=False, state="queued", suspended=False, has_children=True)
    assert names == [
        Name("s", Kind.DIR, "/s"),
        Name("s.que", Kind.STATUS, "/s", "que"),
        Name("s.att", Kind.ATT, "/s", "att"),
        Name("s.def", Kind.NODE_TEXT, "/s", "def"),
        Name("s.why", Kind.NODE_TEXT, "/s", "why"),  # queued: waiting
    ]


def test_empty_family_is_still_a_directory():
    names = layout.node_names("/s", "f", is_task=False, state="complete", suspended=False)
    assert [(n.name, n.kind) for n in names] == [("f", Kind.DIR), ("f.com", Kind.STATUS), ("f.att", Kind.ATT),
                                                 ("f.def", Kind.NODE_TEXT)]
    assert all(n.node == "/s/f" for n in names)


def test_suspended_family_status_file():
    names = layout.node_names("/s", "f", is_task=False, state="aborted", suspended=True, has_children=True)
    assert [n.name for n in names] == ["f", "f.sus", "f.att", "f.def"]  # suspended: not waiting, no .why
    assert names[1].file == "sus"


def test_task_names_in_listing_order():
    names = layout.node_names("/s/f", "t", is_task=True, state="active", suspended=False,
                              task_files=["man", "out", "ecf", "job"])
    assert [n.name for n in names] == ["t.act", "t.att", "t.ecf", "t.job", "t.out", "t.man"]
    assert [n.kind for n in names] == [Kind.STATUS, Kind.ATT] + [Kind.TASK_FILE] * 4
    assert [n.file for n in names] == ["act", "att", "ecf", "job", "out", "man"]
    assert {n.node for n in names} == {"/s/f/t"}


def test_task_without_aliases_has_no_directory():
    names = layout.node_names("/s", "t", is_task=True, state="queued", suspended=False, task_files=["ecf"])
    assert not any(n.kind is Kind.DIR for n in names)
    assert "t" not in [n.name for n in names]


def test_task_with_aliases_has_a_directory():
    names = layout.node_names("/s", "t", is_task=True, state="queued", suspended=False, task_files=["ecf"],
                              has_children=True)
    assert names[0] == Name("t", Kind.DIR, "/s/t")
    assert [n.name for n in names] == ["t", "t.que", "t.att", "t.why", "t.ecf"]


def test_absent_task_files_are_not_listed():
    names = layout.node_names("/s", "t", is_task=True, state="queued", suspended=False, task_files=["ecf", "man"])
    assert [n.name for n in names] == ["t.que", "t.att", "t.why", "t.ecf", "t.man"]
    none = layout.node_names("/s", "t", is_task=True, state="queued", suspended=False)
    assert [n.name for n in none] == ["t.que", "t.att", "t.why"]


def test_unknown_file_kinds_are_not_listed():
    names = layout.node_names("/s", "t", is_task=True, state="queued", suspended=False,
                              task_files={"ecf": object(), "bogus": object()})  # a files mapping works too
    assert [n.name for n in names] == ["t.que", "t.att", "t.why", "t.ecf"]


def test_families_never_list_task_files():
    names = layout.node_names("/", "s", is_task=False, state="queued", suspended=False, task_files=["ecf"])
    assert [n.name for n in names] == ["s", "s.que", "s.att", "s.def", "s.why"]


def test_dotted_node_names():
    names = layout.node_names("/s.1", "t.v2", is_task=True, state="complete", suspended=False,
                              task_files=["out"])
    assert [n.name for n in names] == ["t.v2.com", "t.v2.att", "t.v2.out"]
    assert {n.node for n in names} == {"/s.1/t.v2"}


# ---- whole directories ------------------------------------------------------------------------------
def child(path, kind, state="queued", suspended=False, files=(), children=()):
    return SimpleNamespace(path=path, name=path.rpartition("/")[2], is_task=kind in ("task", "alias"),
                           state=state, suspended=suspended, files=files, children=children)


def test_server_dir_names():
    names = layout.server_dir_names()
    assert [n.name for n in names] == list(layout.SERVER_FILES)
    assert [n.name for n in names][-2:] == ["mirrors", "events"]
    assert all(n.node == "/" and n.file == n.name for n in names)
    assert [n.kind for n in names] == [Kind.SERVER_FILE] * (len(names) - 1) + [Kind.EVENTS]


def test_root_directory_has_server_dir_first():
    names = layout.directory_names([child("/s1", "suite", children=("f",)), child("/s2", "suite", "aborted")],
                                   root=True)
    assert names[0] == Name(".server", Kind.DIR, "/", ".server")
    assert [n.name for n in names] == [".server", "s1", "s1.que", "s1.att", "s1.def", "s1.why",
                                       "s2", "s2.abo", "s2.att", "s2.def"]
    assert [n.node for n in names[1:]] == ["/s1"] * 5 + ["/s2"] * 4


def test_root_directory_without_suites():
    assert [n.name for n in layout.directory_names([], root=True)] == [".server"]


def test_non_root_directory_has_no_server_dir():
    names = layout.directory_names([child("/s/t", "task", "complete", files=("ecf", "out"))])
    assert [n.name for n in names] == ["t.com", "t.att", "t.ecf", "t.out"]
    assert names[0].node == "/s/t"


def test_directory_names_keep_children_order_and_kinds():
    kids = [
        child("/s/f/z", "family", "active", children=("t",)),
        child("/s/f/a", "task", "aborted", suspended=True, files=("job",)),
        child("/s/f/m", "task", "queued", children=("alias0",)),
    ]
    names = layout.directory_names(kids)
    assert [n.name for n in names] == ["z", "z.act", "z.att", "z.def", "a.sus", "a.att", "a.job",
                                       "m", "m.que", "m.att", "m.why"]
    assert [n.node for n in names] == ["/s/f/z"] * 4 + ["/s/f/a"] * 3 + ["/s/f/m"] * 4
    assert [n.kind for n in names] == [Kind.DIR, Kind.STATUS, Kind.ATT, Kind.NODE_TEXT,
                                       Kind.STATUS, Kind.ATT, Kind.TASK_FILE,
                                       Kind.DIR, Kind.STATUS, Kind.ATT, Kind.NODE_TEXT]


def test_alias_directory_names():
    names = layout.directory_names([child("/s/t/alias0", "alias", "complete", files=("ecf", "job"))])
    assert [n.name for n in names] == ["alias0.com", "alias0.att", "alias0.ecf", "alias0.job"]
    assert all(n.node == "/s/t/alias0" for n in names)


# ---- .why, .def, events and the several-server root (issue 12) --------------------------------------
@pytest.mark.parametrize("is_task", [True, False])
@pytest.mark.parametrize("suspended", [False, True])
@pytest.mark.parametrize("state", sorted(layout.STATE_CODES))
def test_why_only_for_waiting_nodes(state, suspended, is_task):
    names = layout.node_names("/s", "n", is_task=is_task, state=state, suspended=suspended)
    why = [n for n in names if n.name == "n.why"]
    assert bool(why) == (state in ("queued", "unknown") and not suspended)
    for n in why:
        assert (n.kind, n.node, n.file) == (Kind.NODE_TEXT, "/s/n", "why")


@pytest.mark.parametrize("state", sorted(layout.STATE_CODES))
def test_def_only_for_suites_and_families(state):
    family = layout.node_names("/s", "f", is_task=False, state=state, suspended=False, has_children=True)
    assert Name("f.def", Kind.NODE_TEXT, "/s/f", "def") in family
    task = layout.node_names("/s", "t", is_task=True, state=state, suspended=False, has_children=True,
                             task_files=layout.TASK_FILE_KINDS, mirrored=True)
    assert "t.def" not in [n.name for n in task]  # a task's definition is in its .att


@given(name=NODE_NAMES, state=st.sampled_from(sorted(layout.STATE_CODES) + ["halted"]), suspended=st.booleans(),
       is_task=st.booleans(), has_children=st.booleans(), mirrored=st.booleans(),
       files=st.sets(st.sampled_from(layout.TASK_FILE_KINDS)))
def test_node_names_are_unique_and_parse_back(name, state, suspended, is_task, has_children, mirrored, files):
    names = layout.node_names("/s", name, is_task=is_task, state=state, suspended=suspended, task_files=files,
                              has_children=has_children, mirrored=mirrored)
    assert len({n.name for n in names}) == len(names)
    for n in names:
        assert n.node == f"/s/{name}"
        if n.kind is not Kind.DIR:
            assert layout.split_extension(n.name) == (name, n.file)


def test_mount_root_names():
    names = layout.mount_root_names(["local", "ops"])
    assert names == [Name(".events", Kind.EVENTS, "/", "events"),
                     Name("local", Kind.DIR, "/", "local"), Name("ops", Kind.DIR, "/", "ops")]
    assert layout.mount_root_names({"a": object()}) == [Name(".events", Kind.EVENTS, "/", "events"),
                                                        Name("a", Kind.DIR, "/", "a")]
    assert [n.name for n in layout.mount_root_names([])] == [".events"]


# ---- node names as ecFlow allows them (issue: hardening, bad input) ----------------------------------
# ecFlow's rule for node names: a letter, digit or underscore, then letters, digits, underscores and dots
# (checked against the real binding below, so that the strategies generate exactly what a server holds).
ECFLOW_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*")
ECFLOW_NAMES = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.]{0,20}\Z")
#: Every extension a node's files can have: status codes and the other files.
EXTENSIONS = sorted(set(layout.CODE_STATES) | {layout.ATT, layout.DEF, layout.WHY, layout.MIRROR}
                    | set(layout.TASK_FILE_KINDS))
#: Stems and suffixes that make siblings look alike: t, t.1, t.que, t.1.que, a.b.c, _x, 0 ...
STEMS = st.one_of(st.sampled_from(["t", "a", "t.1", "a.b.c", "_x", "_", "0", "9.9", "x.", "T"]), ECFLOW_NAMES)
SUFFIXES = st.lists(st.sampled_from(EXTENSIONS + ["1", "v2", "x", "0"]), max_size=2)
SIBLING_NAMES = st.builds(lambda stem, suffixes: ".".join([stem, *suffixes]), STEMS, SUFFIXES)


@st.composite
def look_alike_names(draw):
    """Siblings sharing a stem, as `t`, `t.1`, `t.que`, `t.1.que`, and maybe others."""
    stem = draw(STEMS)
    names = [".".join([stem, *s]) for s in draw(st.lists(SUFFIXES, min_size=1, max_size=5))]
    names += draw(st.lists(SIBLING_NAMES, max_size=2))
    return list(dict.fromkeys(names))[:6]


SIBLING_SETS = st.one_of(st.lists(SIBLING_NAMES, min_size=1, max_size=6, unique=True), look_alike_names())


def ecflow_accepts(name: str) -> bool:
    import ecflow

    try:
        ecflow.Task(name)
    except (RuntimeError, ValueError):
        return False
    return True


@settings(max_examples=300)
@given(name=st.one_of(ECFLOW_NAMES, SIBLING_NAMES,
                      st.text(alphabet="aZ09_.-+ /:*?~%#$@!\t\\\"'\u00e9\u4e2d", min_size=1, max_size=8)))
def test_the_ecflow_name_rule_is_the_bindings(name):
    """The rule the strategies below follow is ecFlow's own: the binding accepts exactly these names."""
    assert ecflow_accepts(name) == bool(ECFLOW_NAME.fullmatch(name)), name


@pytest.mark.parametrize("name, valid", [
    ("t", True), ("t.1", True), ("_x", True), ("0", True), ("a.b.c", True), ("x.", True), ("a..b", True),
    ("t.que", True), ("_", True),
    (".t", False), ("", False), ("a b", False), ("a-b", False), ("a/b", False), ("\u00e9", False),
])
def test_ecflow_name_examples(name, valid):
    assert ecflow_accepts(name) is valid
    assert bool(ECFLOW_NAME.fullmatch(name)) is valid


def file_names_of(name, state, suspended, is_task, has_children, mirrored, files):
    return layout.node_names("/s", name, is_task=is_task, state=state, suspended=suspended,
                             task_files=files, has_children=has_children, mirrored=mirrored)


NODE_SHAPES = dict(state=st.sampled_from(sorted(layout.STATE_CODES)), suspended=st.booleans(),
                   is_task=st.booleans(), has_children=st.booleans(), mirrored=st.booleans(),
                   files=st.sets(st.sampled_from(layout.TASK_FILE_KINDS)))


@settings(max_examples=300)
@given(name=st.one_of(ECFLOW_NAMES, SIBLING_NAMES), **NODE_SHAPES)
def test_split_extension_gives_back_node_name_and_extension(name, state, suspended, is_task, has_children,
                                                            mirrored, files):
    names = file_names_of(name, state, suspended, is_task, has_children, mirrored, files)
    assert [n.name for n in names if n.kind is Kind.DIR] == ([name] if not is_task or has_children else [])
    for n in names:
        if n.kind is Kind.DIR:
            continue
        assert n.name == f"{name}.{n.file}"
        assert layout.split_extension(n.name) == (name, n.file)
        assert n.file in EXTENSIONS
    status = [n for n in names if n.kind is Kind.STATUS]
    assert len(status) == 1 and status[0].file == layout.status_code(state, suspended)


def sibling(parent, name, kind, state, suspended, files, aliased):
    return SimpleNamespace(path=layout.child_path(parent, name), name=name, is_task=kind in ("task", "alias"),
                           state=state, suspended=suspended, files=files if kind == "task" else (),
                           children=("alias0",) if kind != "task" or aliased else ())


SIBLING = st.tuples(st.sampled_from(["suite/family", "task"]), st.sampled_from(sorted(layout.STATE_CODES)),
                    st.booleans(), st.sets(st.sampled_from(layout.TASK_FILE_KINDS)), st.booleans())


def siblings_of(names, shapes, parent="/s"):
    return [sibling(parent, name, kind, state, suspended, files, aliased)
            for name, (kind, state, suspended, files, aliased) in zip(names, shapes)]


def assert_no_entry_shadows_another(children, root=False):
    names = layout.directory_names(children, root=root)
    listed = [n.name for n in names]
    twice = sorted({n for n in listed if listed.count(n) > 1})
    clashes = [(n.name, n.kind.value, n.node) for n in names if n.name in twice]
    assert not twice, f"{twice} stand for two entries: {clashes}"
    index = {n.name: n for n in names}  # what a lookup finds (the Vfs keeps this index)
    for c in children:  # every node keeps its status file and .att, and a directory if it has one
        own = [n for n in names if n.node == c.path]
        assert [n.kind for n in own].count(Kind.STATUS) == 1
        assert [index[n.name] for n in own] == own


@given(names=SIBLING_SETS, shapes=st.lists(SIBLING, min_size=6, max_size=6))
def test_tasks_without_aliases_never_shadow_each_other(names, shapes):
    """Siblings that are all plain tasks (t, t.1, t.que, t.1.que...) list only `<name>.<ext>` files, and
    `<name>.<ext>` parses back to one node and one extension: no two entries can share a name."""
    shapes = [("task", state, suspended, files, False) for _kind, state, suspended, files, _a in shapes]
    assert_no_entry_shadows_another(siblings_of(names, shapes))


@example(names=["a", "a.que"], shapes=[("task", "queued", False, set(), False),
                                       ("suite/family", "complete", False, set(), False)])
@example(names=["a.que", "a"], shapes=[("suite/family", "complete", False, set(), False),
                                       ("task", "queued", False, set(), False)])
@settings(max_examples=300)
@given(names=SIBLING_SETS, shapes=st.lists(SIBLING, min_size=6, max_size=6))
def test_no_two_siblings_share_a_directory_entry(names, shapes):
    """Any siblings ecFlow allows: a family (or a task with aliases) named `a.que` next to a queued task
    `a` must not make one entry hide the other: each keeps its status file, .att and directory."""
    for name in names:
        assert ECFLOW_NAME.fullmatch(name)
    assert_no_entry_shadows_another(siblings_of(names, shapes))


@given(names=SIBLING_SETS, shapes=st.lists(SIBLING, min_size=6, max_size=6))
def test_no_suite_shadows_the_server_directory(names, shapes):
    """`.server` cannot be a node's name or file name: ecFlow names never start with a dot."""
    names = layout.directory_names(siblings_of(names, shapes, parent="/"), root=True)
    assert [n.name for n in names].count(layout.SERVER_DIR) == 1
    assert not any(n.name.startswith(".") for n in names[1:])
