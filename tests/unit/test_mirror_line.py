"""wffs.mirror_line: the ecFlow 5.13 mirror line, parsed, normalised and resolved (pure; no I/O)."""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wffs.mirror_line import (DEFAULT_HOST, DEFAULT_POLLING, DEFAULT_PORT, DEFAULT_VARIABLES,
                              MirrorLineError, MirrorSpec, Resolved, is_off, parse, resolve)

# ---- strategies: specs built from valid parts ---------------------------------------------------------
NAMES = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.]{0,12}", fullmatch=True)
VARIABLES = st.from_regex(r"[A-Za-z0-9_]{1,10}", fullmatch=True).map(lambda v: f"%{v}%")
PATHS = st.lists(st.one_of(NAMES, VARIABLES), min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
HOSTS = st.from_regex(r"[A-Za-z0-9_.:\[\]][A-Za-z0-9_.:\[\]-]{0,20}", fullmatch=True)
PORTS = st.integers(1, 65535).map(str)
POLLINGS = st.integers(1, 10**6).map(str)
#: An auth file may be any path: spaces, quotes, backslashes, '=', non-ASCII; not a line break, not '--...'.
AUTHS = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20).filter(
    lambda s: not s.startswith("--"))


def maybe(strategy):
    return st.none() | strategy


SPECS = st.builds(
    MirrorSpec,
    name=NAMES | VARIABLES,
    remote_path=PATHS | VARIABLES,
    remote_host=maybe(HOSTS | VARIABLES),
    remote_port=maybe(PORTS | VARIABLES),
    polling=maybe(POLLINGS | VARIABLES),
    ssl=st.booleans(),
    remote_auth=maybe(AUTHS | VARIABLES),
)

#: Specs without any %VAR%: resolvable against no variables at all.
CONCRETE_SPECS = st.builds(
    MirrorSpec, name=NAMES, remote_path=st.lists(NAMES, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p)),
    remote_host=maybe(HOSTS), remote_port=maybe(PORTS), polling=maybe(POLLINGS), ssl=st.booleans(),
    remote_auth=maybe(AUTHS.filter(lambda s: "%" not in s)))

OPTION_OF = {"name": "--name", "remote_path": "--remote_path", "remote_host": "--remote_host",
             "remote_port": "--remote_port", "polling": "--polling", "remote_auth": "--remote_auth"}


# ---- round trip ---------------------------------------------------------------------------------------
@given(SPECS)
def test_round_trip(spec):
    line = spec.line()
    assert parse(line) == spec
    assert parse(line).line() == line  # line() is a fixed point through parse
    assert "\n" not in line and line.startswith("mirror --name ")


@given(SPECS, st.data())
def test_option_order_and_forms_do_not_matter(spec, data):
    options = [(OPTION_OF[k], getattr(spec, k)) for k in OPTION_OF if getattr(spec, k) is not None]
    if spec.remote_auth is not None and data.draw(st.booleans(), label="--auth alias"):
        options = [("--auth", v) if o == "--remote_auth" else (o, v) for o, v in options]
    words = []
    for option, value in options:
        if data.draw(st.booleans(), label=f"{option}=value"):
            words.append([f"{option}={value}"])
        else:
            words.append([option, value])
    if spec.ssl:
        words.append(["--ssl"])
    words = data.draw(st.permutations(words), label="order")
    text = " ".join(shlex.quote(w) for group in words for w in group)
    if data.draw(st.booleans(), label="leading mirror"):
        text = "mirror " + text
    # blank lines and surrounding white space around the one line do not matter either
    text = data.draw(st.sampled_from(["{}", "  {}\t", "\n{}\n", "\n \n{}\n\t\n"])).format(text)
    assert parse(text) == spec


def test_examples():
    spec = parse("mirror --name A --remote_path /s1/f1/t1 --remote_host %ECF_MIRROR_REMOTE_HOST% "
                 "--remote_port 3142 --polling 20 --ssl --remote_auth '/home/me/my auth.json'")
    assert spec == MirrorSpec("A", "/s1/f1/t1", "%ECF_MIRROR_REMOTE_HOST%", "3142", "20", True,
                              "/home/me/my auth.json")
    assert spec.line() == ("mirror --name A --remote_path /s1/f1/t1 --remote_host %ECF_MIRROR_REMOTE_HOST% "
                           "--remote_port 3142 --polling 20 --ssl --remote_auth '/home/me/my auth.json'")
    # any order, `=` forms, no leading `mirror`, --auth: the same normalised line
    same = parse("--ssl --auth='/home/me/my auth.json' --polling=20 --remote_port 3142 "
                 "--remote_host=%ECF_MIRROR_REMOTE_HOST% --remote_path=/s1/f1/t1 --name=A")
    assert same == spec and same.line() == spec.line()
    assert parse("--name t.v2 --remote_path /s/t.v2") == MirrorSpec("t.v2", "/s/t.v2")
    assert parse("--name t --remote_path /s/t").line() == "mirror --name t --remote_path /s/t"


# ---- malformed lines: always MirrorLineError, never another exception ------------------------------------
OK = "--name a --remote_path /s/t"

MALFORMED = {
    # unknown options and stray words
    "unknown option": OK + " --foo x",
    "unknown option, = form": OK + " --foo=x",
    "options are case-sensitive": "--Name a --remote_path /s/t",
    "short option": "-n a --remote_path /s/t",
    "flag with a value": OK + " --ssl=yes",
    "stray word": OK + " extra",
    "stray word first": "mirrors " + OK,
    "mirror twice": "mirror mirror " + OK,
    # duplicated options
    "duplicated name": OK + " --name b",
    "duplicated, = form": OK + " --polling 5 --polling=6",
    "duplicated through the alias": OK + " --auth x --remote_auth y",
    "duplicated ssl flag": OK + " --ssl --ssl",
    # missing values and options
    "missing value at the end": OK + " --remote_port",
    "missing value, next is an option": "--name --remote_path /s/t",
    "missing value, = form": "--name= --remote_path /s/t",
    "empty value": "--name '' --remote_path /s/t",
    "value that is an option": OK + " --remote_auth --ssl",
    "no --name": "--remote_path /s/t",
    "no --remote_path": "--name a",
    "only the word mirror": "mirror",
    # ports
    "port 0": OK + " --remote_port 0",
    "port 00": OK + " --remote_port 00",
    "port 65536": OK + " --remote_port 65536",
    "port not digits": OK + " --remote_port http",
    "port negative": OK + " --remote_port -1",
    "port with sign": OK + " --remote_port +3141",
    "port float": OK + " --remote_port 3141.0",
    "port with space": OK + " --remote_port ' 3141'",
    "port, Arabic-Indic digits": OK + " --remote_port \u0663\u0661\u0664\u0661",
    "port, full-width digits": OK + " --remote_port \uff13\uff11\uff14\uff11",
    "port, superscript digit": OK + " --remote_port \u00b2",
    # polling
    "polling 0": OK + " --polling 0",
    "polling negative": OK + " --polling -5",
    "polling not digits": OK + " --polling often",
    "polling float": OK + " --polling 1.5",
    "polling, Devanagari digit": OK + " --polling \u0969",
    # remote paths
    "relative path": "--name a --remote_path s/t",
    "root only": "--name a --remote_path /",
    "empty component": "--name a --remote_path /s//t",
    "trailing slash": "--name a --remote_path /s/t/",
    "component starting with a dot": "--name a --remote_path /s/.t",
    "component with a dash": "--name a --remote_path /s/t-1",
    # names
    "name starting with a dot": "--name .a --remote_path /s/t",
    "name with a slash": "--name a/b --remote_path /s/t",
    "name with a dash": "--name a-b --remote_path /s/t",
    "name with a space": "--name 'a b' --remote_path /s/t",
    "non-ASCII name": "--name \u00e9t\u00e9 --remote_path /s/t",
    "name with a lone percent": "--name a% --remote_path /s/t",
    # hosts
    "host with a space": OK + " --remote_host 'a b'",
    "host with a slash": OK + " --remote_host a/b",
    # lines
    "two lines": OK + "\n--name b --remote_path /s/u",
    "two lines, CR": OK + "\r" + OK,
    "two lines, form feed": OK + "\x0c" + OK,
    "two lines, unicode line separator": OK + "\u2028" + OK,
    "empty text": "",
    "blank lines only": "  \n\t\n\n",
    # quoting
    "unbalanced single quote": "--name 'a --remote_path /s/t",
    "unbalanced double quote": '--name a --remote_path "/s/t',
    "trailing backslash": OK + " \\",
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_lines_are_rejected(text):
    with pytest.raises(MirrorLineError) as e:
        parse(text)
    assert str(e.value)  # a message for the user


def test_messages_say_what_is_wrong():
    def why(text):
        with pytest.raises(MirrorLineError) as e:
            parse(text)
        return str(e.value)

    assert "--foo" in why(OK + " --foo x")
    assert "--name" in why(OK + " --name b")
    assert "--remote_port" in why(OK + " --remote_port 0")
    assert "--polling" in why(OK + " --polling 0")
    assert "--remote_path" in why("--name a --remote_path s/t")
    assert "--remote_path" in why("--name a")


#: Words a malformed line is likely made of, to reach deeper into the parser than random text does.
TOKENS = st.sampled_from(["mirror", "--name", "--remote_path", "--remote_host", "--remote_port", "--polling",
                          "--ssl", "--remote_auth", "--auth", "--name=", "--polling=", "a", "/s/t", "/", "s/t",
                          "0", "3141", "65536", "%V%", "%%", "%", "'", '"', "\\", "=", "--", "-", "\n", "\u0663",
                          "a b", ".x", "off"])
FUZZ_TEXT = st.one_of(st.text(), st.lists(st.one_of(TOKENS, st.text(max_size=5)), max_size=12).map(" ".join))


@settings(max_examples=500)
@given(FUZZ_TEXT)
def test_parse_returns_a_spec_or_raises_mirror_line_error(text):
    try:
        spec = parse(text)
    except MirrorLineError:
        return
    assert isinstance(spec, MirrorSpec)
    assert parse(spec.line()) == spec  # whatever is accepted normalises to a line meaning the same


# ---- resolve --------------------------------------------------------------------------------------------
def test_resolve_substitutes_variables():
    spec = parse("--name %N% --remote_path /%S%/f/%T% --remote_host %H% --remote_port %P% --polling %POLL% "
                 "--ssl --remote_auth %HOME%/.ecflowrc/auth.json")
    variables = {"N": "A", "S": "s1", "T": "t1", "H": "remote.example", "P": "3142", "POLL": "20",
                 "HOME": "/home/me"}
    r = resolve(spec, variables.get)
    assert r == Resolved("A", "/s1/f/t1", "remote.example", 3142, 20, True, "/home/me/.ecflowrc/auth.json")
    assert r.remote == "remote.example:3142"


def test_resolve_percent_percent_is_a_literal_percent():
    spec = parse("--name a --remote_path /s/t --remote_auth '/x/100%%/%%%W%%%'")
    assert resolve(spec, {"W": "w"}.get).remote_auth == "/x/100%/%w%"
    # a variable's value is taken as it is, not substituted again
    assert resolve(parse("--name a --remote_path /s/t --remote_auth %A%"), {"A": "%B%"}.get).remote_auth == "%B%"


def test_resolve_defaults_from_ecf_mirror_variables():
    variables = {"ECF_MIRROR_REMOTE_HOST": "h.example", "ECF_MIRROR_REMOTE_PORT": "4000",
                 "ECF_MIRROR_REMOTE_POLLING": "7", "ECF_MIRROR_REMOTE_AUTH": "/etc/auth.json"}
    r = resolve(parse("--name a --remote_path /s/t"), variables.get)
    assert (r.remote_host, r.remote_port, r.polling, r.remote_auth) == ("h.example", 4000, 7, "/etc/auth.json")
    # options given on the line win over the variables
    r = resolve(parse("--name a --remote_path /s/t --remote_host x --remote_port 5 --polling 6 --auth /a"),
                variables.get)
    assert (r.remote_host, r.remote_port, r.polling, r.remote_auth) == ("x", 5, 6, "/a")
    # the default variables may themselves refer to variables
    r = resolve(parse("--name a --remote_path /s/t"), {"ECF_MIRROR_REMOTE_HOST": "%RH%", "RH": "rh"}.get)
    assert r.remote_host == "rh"


def test_resolve_builtin_defaults():
    r = resolve(parse("--name a --remote_path /s/t"), {}.get)
    assert r == Resolved("a", "/s/t", DEFAULT_HOST, int(DEFAULT_PORT), int(DEFAULT_POLLING), False, None)
    assert (DEFAULT_HOST, DEFAULT_PORT, DEFAULT_POLLING) == ("localhost", "3141", "120")
    # a default variable set to nothing counts as missing
    empty = {k: "" for k in ("ECF_MIRROR_REMOTE_HOST", "ECF_MIRROR_REMOTE_PORT", "ECF_MIRROR_REMOTE_POLLING",
                             "ECF_MIRROR_REMOTE_AUTH")}
    assert resolve(parse("--name a --remote_path /s/t"), empty.get) == r


@pytest.mark.parametrize("line, variables, named", [
    ("--name %N% --remote_path /s/t", {}, "N"),
    ("--name a --remote_path /%SUITE%/t", {}, "SUITE"),
    ("--name a --remote_path /s/t --remote_host %H%", {}, "H"),
    ("--name a --remote_path /s/t --remote_port %P%", {}, "P"),
    ("--name a --remote_path /s/t --polling %POLL%", {}, "POLL"),
    ("--name a --remote_path /s/t --remote_auth %HOME%/a", {}, "HOME"),
    ("--name a --remote_path /s/t", {"ECF_MIRROR_REMOTE_HOST": "%UNDEFINED_HOST%"}, "UNDEFINED_HOST"),
])
def test_resolve_undefined_variable(line, variables, named):
    with pytest.raises(MirrorLineError) as e:
        resolve(parse(line), variables.get)
    assert f"%{named}%" in str(e.value)


@pytest.mark.parametrize("line, variables", [
    ("--name a --remote_path /s/t --remote_port %P%", {"P": "abc"}),
    ("--name a --remote_path /s/t --remote_port %P%", {"P": "0"}),
    ("--name a --remote_path /s/t --remote_port %P%", {"P": "65536"}),
    ("--name a --remote_path /s/t --remote_port %P%", {"P": "\u0663"}),
    ("--name a --remote_path /s/t --remote_port %P%", {"P": ""}),
    ("--name a --remote_path /s/t", {"ECF_MIRROR_REMOTE_PORT": "abc"}),
    ("--name a --remote_path /s/t --polling %P%", {"P": "0"}),
    ("--name a --remote_path /s/t --polling %P%", {"P": "soon"}),
    ("--name a --remote_path /s/t", {"ECF_MIRROR_REMOTE_POLLING": "-1"}),
    ("--name %N% --remote_path /s/t", {"N": "a b"}),
    ("--name %N% --remote_path /s/t", {"N": ".a"}),
    ("--name %N% --remote_path /s/t", {"N": "a\n"}),
    ("--name a --remote_path %P%", {"P": "s/t"}),
    ("--name a --remote_path /s/%T%", {"T": ""}),
    ("--name a --remote_path /s/t --remote_host %H%", {"H": "a b"}),
    ("--name a --remote_path /s/t --remote_host %H%", {"H": ""}),
    ("--name a --remote_path /s/t", {"ECF_MIRROR_REMOTE_HOST": "x/y"}),
    ("--name %% --remote_path /s/t", {}),
    ("--name a --remote_path /s/t --remote_port %%", {}),
])
def test_resolve_checks_values_after_substitution(line, variables):
    spec = parse(line)  # %VAR% values are not checked before they are known
    with pytest.raises(MirrorLineError):
        resolve(spec, variables.get)


@given(CONCRETE_SPECS)
def test_resolve_concrete_specs(spec):
    r = resolve(spec, {}.get)
    assert (r.name, r.remote_path, r.ssl, r.remote_auth) == (spec.name, spec.remote_path, spec.ssl, spec.remote_auth)
    assert r.remote_host == (spec.remote_host or DEFAULT_HOST)
    assert r.remote_port == int(spec.remote_port or DEFAULT_PORT) and 0 < r.remote_port < 65536
    assert r.polling == int(spec.polling or DEFAULT_POLLING) and r.polling >= 1


def variables_used(spec):
    """The variables a spec refers to, and those its missing options default to."""
    names = set(DEFAULT_VARIABLES.values())
    for value in (spec.name, spec.remote_path, spec.remote_host, spec.remote_port, spec.polling,
                  spec.remote_auth):
        names.update(n for n in re.findall(r"%([A-Za-z0-9_]*)%", value or "") if n)
    return names


@settings(max_examples=150)
@given(SPECS, st.dictionaries(st.from_regex(r"[A-Za-z0-9_]{1,10}", fullmatch=True), st.text(max_size=8)),
       st.data())
def test_resolve_returns_resolved_or_raises_mirror_line_error(spec, extra, data):
    # the variables the spec uses, some defined (with arbitrary values, often bad), some not
    used = sorted(v for v in variables_used(spec) if v)
    defined = data.draw(st.dictionaries(st.sampled_from(used), st.one_of(st.text(max_size=8), NAMES, PORTS))
                        if used else st.just({}))
    try:
        r = resolve(spec, {**extra, **defined}.get)
    except MirrorLineError:
        return
    assert isinstance(r.remote_port, int) and 0 < r.remote_port < 65536
    assert isinstance(r.polling, int) and r.polling >= 1
    assert "%" not in r.name and r.remote_path.startswith("/")


# ---- off ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["off", "", "  OFF \n", "Off", "\n", " \t\n\n"])
def test_is_off(text):
    assert is_off(text)


@pytest.mark.parametrize("text", ["of", "offf", "off off", "0", "no", OK, "mirror off"])
def test_is_not_off(text):
    assert not is_off(text)
