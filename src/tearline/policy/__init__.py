"""The release policy: the scalar reference :func:`decide`, vectorised recomputation and what-if (pure)."""

from tearline.policy.columns import ColumnsBuilder, LabelColumns, Vocab
from tearline.policy.decide import RULES, decide
from tearline.policy.vector import compute, compute_matrix, reason_codes
from tearline.policy.whatif import WhatIfReport, whatif

__all__ = [
    "RULES",
    "ColumnsBuilder",
    "LabelColumns",
    "Vocab",
    "WhatIfReport",
    "compute",
    "compute_matrix",
    "decide",
    "reason_codes",
    "whatif",
]
