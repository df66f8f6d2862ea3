"""BlueCodeAgent: a blue-teaming guard for code-generation AI."""

import os

# One query is a (1 x 384) by (384 x n) product: BLAS threads only add overhead and contention.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.verdict import Decision, Finding, Task, Verdict

__all__ = ["BlueCodeAgent", "Decision", "Finding", "Task", "Verdict"]
