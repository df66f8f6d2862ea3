"""A small module with two weaknesses and one safe twin, for `bluecode scan` (see `make demo`)."""

import os
import subprocess


def ping(host):
    return os.system("ping -c 1 " + host)


def ping_safe(host):
    return subprocess.run(["ping", "-c", "1", host], check=False).returncode


def read_user_file(base, name):
    with open(os.path.join(base, name)) as f:
        return f.read()
