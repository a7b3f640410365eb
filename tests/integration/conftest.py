"""Real ecflow_server processes and real mounts, shared where tests only read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from testbed.devserver import EcflowServer

from .mounting import Mount

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_suite  # noqa: E402


FIRST_MOUNT = pytest.StashKey[int]()
LOG_TAIL = 4000


def pytest_runtest_setup(item):
    item.stash[FIRST_MOUNT] = len(Mount.started)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the end of the log of every mount it (or its fixtures) started."""
    report = (yield).get_result()
    if report.failed and report.when in ("setup", "call"):
        for mount in Mount.started[item.stash.get(FIRST_MOUNT, len(Mount.started)):]:
            report.sections.append((f"wffs log {mount.log} (its last {LOG_TAIL} characters)",
                                    mount.log_text()[-LOG_TAIL:]))


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """The demo suite on a real server, run until its tasks have settled (complete, aborted, active...)."""
    server = EcflowServer(tmp_path_factory.mktemp("demo") / "home")
    server.start()
    try:
        demo_suite.load_demo(server)
        demo_suite.wait_until_settled(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_mount(demo_server, tmp_path_factory):
    with Mount.start(demo_server.port, tmp_path_factory.mktemp("demo-mnt") / "mnt") as mount:
        yield mount


@pytest.fixture
def scratch_server(tmp_path):
    """A server of the test's own, for tests that change states or stop, pause and restart it."""
    server = EcflowServer(tmp_path / "home")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter):
    """The figures of the fault and load tests, also kept in run/reliability.json."""
    from .reliability import FIGURES, write_report

    path = write_report()
    if path is None:
        return
    terminalreporter.section("reliability figures")
    for test, figures in FIGURES.items():
        terminalreporter.write_line(f"{test}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    terminalreporter.write_line(f"(written to {path})")
