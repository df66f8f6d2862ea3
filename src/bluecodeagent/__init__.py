"""BlueCodeAgent: a blue-teaming guard for code-generation AI."""

from bluecodeagent.agent import BlueCodeAgent
from bluecodeagent.verdict import Decision, Finding, Task, Verdict

__all__ = ["BlueCodeAgent", "Decision", "Finding", "Task", "Verdict"]
