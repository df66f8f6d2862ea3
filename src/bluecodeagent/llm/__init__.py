"""Talking to language models: the backend interface, the OpenAI-compatible client, cache and traces."""
