"""The two small C libraries wffs loads in front of pyfuse3 (see wffs/fuse_binding.py), built by pip.

They are shared libraries loaded with ctypes, not Python modules; `optional`: a machine without a
compiler or without libfuse3's headers (Debian's libfuse3-dev) still installs wffs, which then runs
without them and says so in its log.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("wffs._dircache", ["wffs/_dircache.c"], optional=True),
    Extension("wffs._fastopen", ["wffs/_fastopen.c"], optional=True),
])
