"""Python rules, one module per CWE family. Importing this package registers them all."""

from bluecodeagent.code.static.python.rules import (  # noqa: F401
    access,
    crypto,
    deserialize,
    guards,
    injection,
    paths,
    resources,
    web,
)
