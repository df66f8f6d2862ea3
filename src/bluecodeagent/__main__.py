"""``python -m bluecodeagent`` runs the CLI."""

from bluecodeagent.cli import main

main()
