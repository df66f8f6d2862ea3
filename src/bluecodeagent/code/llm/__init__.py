"""The LLM engine for code: constitution, guided review, generated tests run in the sandbox, final judge.

``pipeline.LLMCodeScanner`` runs the steps; each step lives in its own module with its prompt in
``prompts/<name>.md`` (versioned templates written for this product).
"""
