"""Sphinx configuration of the docs site: MyST pages, autodoc from the code, warnings as errors.

``make docs`` builds it with ``-W``; the pages are Markdown (MyST), the API reference is
autodoc, and the CLI reference runs each command's real ``--help`` (``_ext/cli_reference.py``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from sphinx.ext.napoleon.docstring import GoogleDocstring

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent / "_ext")]

project = "mlic-marl"
author = "the mlic-marl authors"
copyright = "2026, the mlic-marl authors"
release = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the "Args:" sections of a few docstrings
    "sphinx.ext.viewcode",
    "cli_reference",
]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "Dynamic training recipes as a multi-agent RL environment",
                      "fixed_sidebar": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}



def _attribute_docstring_as_written(self: GoogleDocstring) -> list[str]:
    """Napoleon reads an attribute's docstring as ``type: description`` when its first line has
    a colon; this project's field docstrings are prose (``an int in [0, inf): 0 tries all``),
    and autodoc already shows the annotation, so the docstring is kept whole."""
    return type(self)(self._dedent(self._consume_to_end()), self._config).lines()


GoogleDocstring._parse_attribute_docstring = _attribute_docstring_as_written  # type: ignore[method-assign]
