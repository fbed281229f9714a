"""How secrets stay out of the rows: the marks put in their place, and the salted hash that an
exact header (or query parameter) matcher on a sensitive name keeps instead of its value.

The ingest (``topo.ingest.transform.scrub``) writes these; the questions
(``topo.queries.envoy.header_matches``) compare a request's value with the hash, so
``topo path --header authorization=…`` still picks the route Envoy would, while the value itself
is stored and printed nowhere (``<redacted>`` in its place).

The hash is PBKDF2-HMAC-SHA256 with a salt of its own and 10,000 rounds, stored as
``pbkdf2-sha256$ROUNDS$SALT$DIGEST`` (hex). The salt is derived from the header's name (the
transform is a pure function: the same dump gives the same rows), which keeps precomputed tables
useless; a value that can be guessed can still be tried against the hash by whoever can read the
store, exactly as it could be tried with `topo path`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

REDACTED = "[redacted by topo]"  # in place of a credential
HIDDEN = "<redacted>"  # in place of an exact matcher's value; its hash is kept beside it
ROUNDS = 10_000
_SCHEME = "pbkdf2-sha256"


def _salt(name: str) -> bytes:
    return hashlib.sha256(b"topo header match/1\x00" + name.lower().encode("utf-8", "surrogatepass")).digest()[:16]


def _digest(value: str, salt: bytes, rounds: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", value.encode("utf-8", "surrogatepass"), salt, rounds)


@functools.lru_cache(maxsize=4096)
def value_hash(name: str, value: str, ignore_case: bool = False) -> str:
    """The stored form of an exact matcher's ``value`` for header (or parameter) ``name``."""
    salt = _salt(name)
    v = value.lower() if ignore_case else value
    return f"{_SCHEME}${ROUNDS}${salt.hex()}${_digest(v, salt, ROUNDS).hex()}"


@functools.lru_cache(maxsize=4096)
def hash_matches(stored: object, value: str, ignore_case: bool = False) -> bool:
    """Whether a request's ``value`` is the one ``stored`` (a :func:`value_hash`) was made of."""
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 4 or parts[0] != _SCHEME or not parts[1].isdigit():
        return False
    try:
        salt, want = bytes.fromhex(parts[2]), bytes.fromhex(parts[3])
    except ValueError:
        return False
    rounds = int(parts[1])
    if not 1 <= rounds <= 10 * ROUNDS:
        return False
    v = value.lower() if ignore_case else value
    return hmac.compare_digest(_digest(v, salt, rounds), want)
