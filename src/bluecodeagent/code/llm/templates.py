"""Versioned prompt templates: ``<name>.md`` files with a version header and system/user sections.

Format::

    <!-- prompt: review, version: 1 -->
    ## system
    ...
    ## user
    ... {{placeholder}} ...

Placeholders are ``{{name}}`` (never ``{name}`` or ``$name``, which occur in code).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from pydantic import BaseModel

from bluecodeagent.errors import ConfigError
from bluecodeagent.llm.backend import Message

_HEADER = re.compile(r"<!--\s*prompt:\s*([\w.-]+),\s*version:\s*(\d+)\s*-->")
_SLOT = re.compile(r"\{\{(\w+)\}\}")


class Prompt(BaseModel):
    """One template: its name, version and the two message texts."""

    name: str
    version: int
    system: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def render(self, **values: str) -> list[Message]:
        """System and user messages with every ``{{slot}}`` filled; a missing value is an error."""

        def fill(text: str) -> str:
            def one(m: re.Match[str]) -> str:
                if m.group(1) not in values:
                    raise ConfigError(f"prompt {self.id}: no value for {{{{{m.group(1)}}}}}")
                return str(values[m.group(1)])

            return _SLOT.sub(one, text)

        return [Message(role="system", content=fill(self.system)), Message(role="user", content=fill(self.user))]


def parse_prompt(text: str, origin: str = "prompt") -> Prompt:
    """Parse a template file's text."""
    head = _HEADER.search(text)
    parts = re.split(r"^## (system|user)\s*$", text, flags=re.M)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if head is None or set(sections) != {"system", "user"}:
        raise ConfigError(f"{origin}: expected a '<!-- prompt: NAME, version: N -->' header, '## system' and '## user'")
    return Prompt(name=head.group(1), version=int(head.group(2)), system=sections["system"], user=sections["user"])


@cache
def load_prompt(name: str, package: str = "bluecodeagent.code.llm.prompts") -> Prompt:
    """The shipped template ``<name>.md`` of ``package``."""
    try:
        text = resources.files(package).joinpath(f"{name}.md").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as e:
        raise ConfigError(f"no prompt template {name!r} in {package}") from e
    return parse_prompt(text, f"{package}/{name}.md")
