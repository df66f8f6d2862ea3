"""A stand-in for a third-party package: importing it registers one mutator (loaded by entry point)."""

from __future__ import annotations

import random

from bluecodeagent.redteam.mutators import Mutator, register


@register
class ShoutingMutatorDouble(Mutator):
    """Test double of a plug-in mutator."""

    name = "test-double-shouting"
    family = "test"
    description = "upper-cases the request (a test double)"

    def apply(self, text: str, rng: random.Random) -> str:
        return text.upper()
