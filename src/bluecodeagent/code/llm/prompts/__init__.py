"""Prompt templates of the LLM code engine (data files)."""
