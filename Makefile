# wffs: the README's two commands are `make demo` and `make test`; both install what is missing first.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
APT_NEEDS := ecflow-server ecflow-client python3-ecflow python3-pyfuse3 python3-trio python3-venv fuse3 rsync mc \
             tmux gcc libc6-dev libfuse3-dev
RUN       := run

.PHONY: setup apt demo stop test test-unit bench clean

setup: $(STAMP)

# Debian packages: only the missing ones, quiet when all are there. fuse3 brings fusermount3, through
# which a normal user mounts; it replaces libfuse 2's `fuse` and keeps a `fusermount` link to itself.
apt:
	@missing=$$(for p in $(APT_NEEDS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$(echo $$missing)" ]; then \
	    echo "wffs: installing Debian packages:" $$missing; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# pip builds wffs's two small C libraries too (setup.py; optional: without gcc or libfuse3-dev wffs installs
# and runs without them): a change of their source installs again.
$(STAMP): setup.cfg setup.py pyproject.toml wffs/_dircache.c wffs/_fastopen.c | apt
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test,cylc]'
	@touch $@

demo: setup
	@$(PY) scripts/demo.py start --dir $(RUN)/demo

stop: setup
	@$(PY) scripts/demo.py stop --dir $(RUN)/demo

# The whole suite; then the mount tests once more without the C libraries (WFFS_NO_NATIVE): wffs must
# behave the same without them (a machine where pip could not build them). The tests of the libraries
# themselves (test_kept_listings, test_fast_open, test_fuse_binding) check both ways in the first run.
NO_NATIVE_TESTS := tests/integration/test_mount_live.py tests/integration/test_tools.py \
                   tests/integration/test_access.py tests/integration/test_mc.py tests/integration/test_bad_input.py
test: setup
	@$(PY) -m pytest -q --durations=12
	@echo "wffs: the mount tests again, without the C libraries (WFFS_NO_NATIVE=1)"
	@WFFS_NO_NATIVE=1 $(PY) -m pytest -q $(NO_NATIVE_TESTS)

test-unit: setup
	@$(PY) -m pytest -q -m 'not integration'

clean: stop
	rm -rf $(VENV) $(RUN) *.egg-info build wffs/*.so

# Benchmark (issue 11): wffs against tmpfs, the FUSE floor and the ecflow_client way; needs root.
# Options: make bench BENCH_ARGS='--scale 1k --scale 10k --idle-seconds 60 --rounds 3 --out run/bench'
.PHONY: bench-setup
bench-setup: setup
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install -q --disable-pip-version-check matplotlib \
	    >/dev/null 2>&1 || echo "wffs: matplotlib could not be installed: the benchmark saves no plot"

bench: bench-setup
	@$(PY) scripts/bench.py $(BENCH_ARGS)

# The remote mode: a server whose files this machine cannot see, behind a link that delays each direction
# (needs root). Options: make bench-remote BENCH_REMOTE_ARGS='--families 200 --delay 0.005'
# CPU a mount costs per request (default and --fast-open) and when idle.
.PHONY: bench-cpu
bench-cpu: bench-setup
	@$(PY) scripts/bench_cpu.py $(BENCH_CPU_ARGS)

.PHONY: bench-remote
bench-remote: bench-setup
	@$(PY) scripts/bench_remote.py $(BENCH_REMOTE_ARGS)
