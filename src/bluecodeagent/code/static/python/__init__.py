"""Python static analyzer: AST rules over intra-procedural taint."""

from bluecodeagent.code.static.base import register_analyzer
from bluecodeagent.code.static.python import rules as _rules  # noqa: F401  (registers rules)
from bluecodeagent.code.static.python.analyzer import PythonAnalyzer

register_analyzer("python", PythonAnalyzer)

__all__ = ["PythonAnalyzer"]
