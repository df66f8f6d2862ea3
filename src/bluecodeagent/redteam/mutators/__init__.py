"""Red-team mutation operators (see :mod:`.base` for the interface and registry)."""

from bluecodeagent.redteam.mutators.base import Mutator, get_mutator, mutators, register

__all__ = ["Mutator", "get_mutator", "mutators", "register"]
