"""The ``cli`` directive: a command's real ``--help``, rendered where the docs name it.

In a MyST page::

    ```{cli} training.imitate fit
    ```

imports ``training.imitate``, calls its ``main(["fit", "--help"])`` and shows what a user
would see in a terminal 100 columns wide. The CLI reference is therefore generated from the
parsers themselves and cannot drift from them; a command that fails to print its help fails
the build.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

WIDTH = "100"
"""The terminal width the help is formatted for (argparse reads ``COLUMNS``)."""


def help_text(module: str, words: list[str]) -> str:
    """What ``python -m <module> <words> --help`` prints."""
    main = importlib.import_module(module).main
    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main([*words, "--help"])
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    text = out.getvalue()
    if not text.startswith("usage:"):
        raise RuntimeError(f"python -m {module} {' '.join(words)} --help printed no usage")
    return text


class CliDirective(SphinxDirective):
    """``{cli} <module> [subcommand ...]``: the command's ``--help`` as a literal block."""

    required_arguments = 1
    optional_arguments = 4
    has_content = False

    def run(self) -> list[Any]:
        module, *words = self.arguments
        text = help_text(module, words)
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("cli", CliDirective)
    return {"parallel_read_safe": True, "version": "1"}
