"""Small helpers shared across stages (no heavy imports)."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from pathlib import Path


def is_ip(s: str) -> bool:
    """True for an IPv4 or IPv6 address literal."""
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``path`` so that a reader sees the old bytes or the new ones, never a part:
    a temporary file in the same directory, then a rename. ``durable`` also fsyncs the
    file and the directory, so the new bytes survive a crash right after the call."""
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; these are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
