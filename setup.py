"""Build of the optional compiled parser core. Everything else is in pyproject.toml.

The extension is optional: when no C compiler is available the build goes on without it and logad
uses its pure-Python reference, which gives identical results (only slower).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("logad.parsing._core", ["src/logad/parsing/_core.c"], optional=True)])
