"""Fixtures of the LLM tests: the scripted OpenAI-compatible server (a test double) and its settings."""

from llm.scripted_openai_server import llm_settings, scripted_llm

__all__ = ["llm_settings", "scripted_llm"]
