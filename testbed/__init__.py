"""What the tests, the demo and the benchmark start: real ecflow_server processes and Cylc workflows on
loopback.  Not part of the installed package (setup.cfg excludes it)."""
