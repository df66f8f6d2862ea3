# ruff: noqa
# Command injection (CWE-78/77), substring allowlists (CWE-20), header/XML injection (CWE-74).
import os
import re
import shlex
import subprocess

from flask import request

ALLOWED = ["ls", "whoami"]
GREETING = "echo Hello, {name}!"


def backup(folder: str, name: str):
    # ruleid: py.cmd.shell-string
    # ruleid: py.cmd.command-template
    os.system(f"tar -czf {name}.tar.gz -C {folder} .")


def backup_safe(folder: str, name: str):
    # ok: py.cmd.shell-string
    subprocess.run(["tar", "-czf", f"{name}.tar.gz", "-C", folder, "."])


def run_shell(cmd, args):
    full = cmd + " " + " ".join(args)
    # ruleid: py.cmd.shell-string
    return subprocess.check_output(full, shell=True, text=True)


def run_quoted(cmd, args):
    full = [cmd] + [shlex.quote(a) for a in args]
    # ok: py.cmd.shell-string
    return subprocess.check_output(full, text=True)


def view():
    host = request.args.get("host")
    # ruleid: py.cmd.shell-string
    return os.popen("ping -c 1 " + host).read()


def sh_c(user):
    # ruleid: py.cmd.shell-string
    subprocess.run(["sh", "-c", "grep " + user + " /etc/passwd"])


def quoted_shell(name: str):
    # ok: py.cmd.shell-string
    os.system("ls " + shlex.quote(name))


def allowlisted(parts: list[str]):
    for p in parts:
        if p not in ALLOWED:
            raise ValueError(p)
    # ok: py.cmd.shell-string
    return os.popen(" ".join(parts)).read()


def greeting(name: str) -> str:
    # ruleid: py.cmd.command-template
    return GREETING.format(name=name)


def greeting_safe(name: str) -> str:
    # ok: py.cmd.command-template
    return GREETING.format(name=shlex.quote(name))


def check_cmd(command: str):
    # ruleid: py.validation.substring-allowlist
    if any(ok in command for ok in ALLOWED):
        return command
    return None


def check_cmd_exact(command: str):
    # ok: py.validation.substring-allowlist
    if command in ALLOWED:
        return command
    return None


def header(value: str) -> str:
    # ruleid: py.injection.header
    return f"X-Custom: {value}"


def header_clean(value: str) -> str:
    clean = re.sub(r"[\r\n]", "", value)
    # ok: py.injection.header
    return f"X-Custom: {clean}"


def remote_listing(ssh, folder: str):
    # ruleid: py.cmd.shell-string
    return ssh.exec_command("ls -l " + folder)


def remote_listing_quoted(ssh, folder: str):
    # ok: py.cmd.shell-string
    return ssh.exec_command("ls -l " + shlex.quote(folder))
