"""Errors users can act on. The CLI prints them as one line and exits 2."""


class BlueCodeError(Exception):
    """Base for every error the product raises on purpose."""


class InputError(BlueCodeError):
    """The subject or input file is unusable (empty, binary, too large, malformed)."""


class ConfigError(BlueCodeError):
    """A setting is missing or invalid."""


class ModelError(BlueCodeError):
    """The embedding model is missing, altered or failed to load."""


class KnowledgeError(BlueCodeError):
    """The knowledge base is missing, corrupt or incompatible."""


class SandboxUnavailable(BlueCodeError):
    """No isolation layer is available, so untrusted code will not be run."""
