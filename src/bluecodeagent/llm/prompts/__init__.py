"""Versioned prompt templates of the LLM engine for the prompt tasks (bias, malicious, injection)."""
