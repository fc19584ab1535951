"""Builds the one extension module, fastcore._core, from its .pyx parts."""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

# FASTCORE_DEBUG=1 builds with assertions and without optimisation.
debug = os.environ.get("FASTCORE_DEBUG") == "1"

extension = Extension(
    "fastcore._core",
    sources=["fastcore/_core.pyx"],
    extra_compile_args=["-O0", "-g"] if debug else ["-O2"],
    define_macros=[] if debug else [("NDEBUG", "1")],
)

setup(
    ext_modules=cythonize(
        [extension],
        compiler_directives={"language_level": 3},
        # The .pyx parts are included into _core.pyx: rebuild when any changes.
        build_dir="build/cython",
    ),
)
