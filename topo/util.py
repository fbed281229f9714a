"""Small helpers shared across stages (no heavy imports)."""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, BinaryIO


# Readers of untrusted JSON (dumps, kubectl output in a bug report): a value of the wrong type
# reads as empty. (topo.ingest.transform has its own, which also records what was wrong.)
def as_dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def as_str(v: Any) -> str:
    return v if isinstance(v, str) else ""


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


# ---------------------------------------------------------------- reading files that may be anything
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def open_regular(path: str | os.PathLike[str], limit: int) -> tuple[BinaryIO, int]:
    """``path`` opened for reading, and its size, only when it is a regular file (through any
    symbolic links) of at most ``limit`` bytes: a FIFO, a device (a link to /dev/zero) or a
    directory is refused at once, never waited on or read without end. Raises OSError with a
    message that says which."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(e.errno, "a symbolic link loop") from None
        if e.errno == errno.ENOENT and os.path.islink(path):
            raise OSError(e.errno, f"a dangling symbolic link (to {os.readlink(path)})") from None
        if e.errno == errno.ENXIO:  # a socket
            raise OSError(e.errno, "not a regular file (a socket)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise OSError(errno.EINVAL, f"not a regular file ({kind})" if kind != "a directory"
                          else "is a directory, not a file")
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"{st.st_size} bytes is larger than the {limit} byte limit")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`); a file
    that grows past the limit while it is read is refused too."""
    f, size = open_regular(path, limit)
    with f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"more than the {limit} byte limit (it grew while read)")
    return data


def pct(x: float, digits: int = 4) -> str:
    """A fraction as a percentage without trailing zeros: 0.9 → ``90%``, 1/3 → ``33.3333%``."""
    s = f"{x * 100:.{digits}f}".rstrip("0").rstrip(".")
    return f"{s}%"


# ---------------------------------------------------------------- names as text
# Characters a terminal acts on or that make text lie about itself: C0 and C1 controls and DEL
# (ESC starts screen clears, title changes, OSC 8 links; newline and tab forge table rows),
# bidirectional overrides and marks (they reorder what is shown), line and paragraph separators
# (str.splitlines breaks on them), lone surrogates (an undecodable file name; they cannot be
# printed) and U+FFFE/U+FFFF (not characters: XML, hence SVG, refuses them).
_SHOWN = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x2028, 0x202F), *range(0x2066, 0x206A),
           *range(0xD800, 0xE000), 0xFFFE, 0xFFFF]
_PRINTABLE = {c: _SHOWN.get(chr(c)) or (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
_UNSAFE_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in _UNSAFE) + "]")


def printable(s: object) -> str:
    """``s`` as text a terminal, a table or an SVG shows as it is: every control character and
    the other characters above written as an escape (``\\x1b``, ``\\n``, ``\\t``, ``\\u202e``).
    Plain text comes back unchanged (the same object)."""
    t = s if isinstance(s, str) else str(s)
    if _UNSAFE_RE.search(t) is None:
        return t
    return t.translate(_PRINTABLE)


def short_service(fqdn: str) -> str:
    """``name.ns.svc.cluster.local`` → ``name.ns``; other hosts unchanged."""
    parts = fqdn.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return f"{parts[0]}.{parts[1]}"
    return fqdn
