"""Ray's console noise kept out of our output (shared by meta-training and the PBT peer).

Ray prints start-up notices, and Tune its experiment tables and result paths, whatever the
verbosity. :func:`ray_console` swallows them, and replays them on stderr if the block fails,
so an error is never hidden.
"""
from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def ray_console() -> Iterator[None]:
    """Hide what the block prints; show it if the block raises."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise
