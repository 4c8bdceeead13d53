"""Stop requests from the terminal: SIGINT/SIGTERM set a flag that a loop checks between units
of work (a decision of ``run_marl``, a round of ``meta_train``); a second signal aborts."""
from __future__ import annotations

import signal
import sys
from typing import Any


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop stops after the current ``unit`` (a second signal aborts)."""

    def __init__(self, unit: str = "decision") -> None:
        self.unit = unit
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signal is not None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self, ignore: bool = False) -> None:
        """Put back the handlers ``install`` replaced (``main`` may run inside a larger program).

        ``ignore=True`` ignores further SIGINT/SIGTERM instead: the process is about to exit
        and a late signal must not raise during interpreter shutdown.
        """
        for sig, handler in self._previous.items():
            restored = signal.SIG_IGN if ignore else handler
            signal.signal(sig, restored if restored is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name} received: stopping after this {self.unit} "
              "(a checkpoint is written; continue with --resume)", file=sys.stderr, flush=True)
