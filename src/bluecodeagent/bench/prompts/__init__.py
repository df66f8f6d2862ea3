"""Prompt templates of the text-task comparison variants (bluecode bench --engine llm --compare)."""
