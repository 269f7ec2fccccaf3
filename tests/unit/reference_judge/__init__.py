"""A frozen copy of the judge (``domain.timeline`` and ``domain.findings``) as it stood before
issue 9 made it faster: the yardstick of ``tests/unit/test_judge_equivalence.py``.

Why it exists: the fast judge must give the very same answers (``Timeline``, ``projection_row``,
``timeline_hash``, ``live_breaches``) for every input. This copy is today's implementation,
untouched but for its imports (the answer's models, ``domain.timeline.model``, and the vocabulary
of ``domain.policy`` are shared, so that the two answers compare with ``==``). Do not edit it to
follow a change of the judge: a deliberate change of the answers means deleting the comparison,
not moving the yardstick. It may be deleted once the new judge has lived a while.
"""

from tests.unit.reference_judge.compute import compute_timeline
from tests.unit.reference_judge.findings import live_breaches, projection_row, timeline_hash
from tests.unit.reference_judge.judge import judge, judge_under

__all__ = [
    "compute_timeline",
    "judge",
    "judge_under",
    "live_breaches",
    "projection_row",
    "timeline_hash",
]
