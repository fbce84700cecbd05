"""Build of the optional compiled core (module logad._core, sources in src/logad/native/).
Everything else is in pyproject.toml.

The extension is optional: when no C compiler is available the build goes on without it and logad
uses its pure-Python reference, which gives identical results (only slower).
"""

from setuptools import Extension, setup

SOURCES = [f"src/logad/native/{name}.c" for name in ("core", "rx", "split", "keys", "csv")]

setup(ext_modules=[Extension("logad._core", SOURCES, depends=["src/logad/native/core.h"], optional=True,
                             extra_compile_args=["-O2"])])
