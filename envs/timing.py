"""The wall-clock split of one env call, as reported in ``infos[agent]["time"]``."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class StepTiming:
    """Seconds spent training, evaluating, probing the label effects, and in the env's own
    code (overhead).

    Timings are measurements, not part of the trajectory a seed determines, so two
    ``StepTiming`` values always compare equal: seeded-determinism checks (such as
    pettingzoo's ``parallel_seed_test``, which compares ``infos``) then compare exactly
    what the seed fixes.
    """

    train_s: float = field(compare=False)
    eval_s: float = field(compare=False)
    overhead_s: float = field(compare=False, default=0.0)
    probe_s: float = field(compare=False, default=0.0)
    """The label-effect probe (observation version 2; next to nothing on a decision between
    two probes, where the last reading is held; 0 without context features)."""

    @property
    def total_s(self) -> float:
        return self.train_s + self.eval_s + self.overhead_s + self.probe_s

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
