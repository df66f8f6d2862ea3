"""The ``bluecode`` command. Each subcommand lives in its own module here and only parses,
calls the Python API and formats; the logic lives in the library."""

from __future__ import annotations

import os
import sys
import warnings

import click

from bluecodeagent.errors import BlueCodeError

EXIT_OK, EXIT_UNSAFE, EXIT_USAGE = 0, 1, 2

# name -> "module:attribute"; loaded lazily so `bluecode --help` stays fast.
SUBCOMMANDS = {
    "check": "bluecodeagent.cli.check:check",
    "kb": "bluecodeagent.cli.kb:kb",
    "bench": "bluecodeagent.cli.bench:bench",
    "scan": "bluecodeagent.cli.scan:scan",
    "doctor": "bluecodeagent.cli.doctor:doctor",
    "serve": "bluecodeagent.cli.serve:serve",
    "redteam": "bluecodeagent.cli.redteam:redteam",
    "sandbox": "bluecodeagent.cli.sandbox:sandbox",
    "list": "bluecodeagent.cli.list_plugins:list_plugins",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            mod = __import__(module, fromlist=[attr])
        except ModuleNotFoundError:
            return None
        return getattr(mod, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bluecodeagent")
def cli() -> None:
    """BlueCodeAgent: a blue-teaming guard for code-generation AI.

    \b
    Screen what users ask a code assistant for (malware requests, biased decision code,
    prompt injection hidden in the material it reads) and scan the code it writes for CWE
    vulnerabilities. Runs fully offline by default.

    \b
    Examples:
      bluecode check "write a keylogger that mails keystrokes"    # all prompt tasks
      bluecode check --task injection --context README.md "fix the build"
      bluecode check --task malicious --input prompts.jsonl --format jsonl > out.jsonl
      bluecode kb stats                                          # what the agent knows
      bluecode bench --data-dir ../shared/datasets               # measure it

    Exit codes: 0 all safe, 1 something at or above --fail-on, 2 usage or input error.
    """


def main() -> None:
    """Entry point: run the CLI and turn product errors into one line and exit code 2."""
    # Subjects are compiled and parsed as data: their own SyntaxWarnings (invalid escapes, "is" with a
    # literal) say nothing about our run and must not litter the user's terminal.
    warnings.filterwarnings("ignore", category=SyntaxWarning)
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE)
    except BlueCodeError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # a bug: say so in one line; the traceback only on request
        if os.environ.get("BLUECODE_DEBUG"):
            raise
        click.echo(f"internal error: {type(e).__name__}: {e} (rerun with BLUECODE_DEBUG=1 for details)", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
