"""Identifiers and printable codes."""
import base64
import secrets
import threading
import time

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# Codes people read aloud or type at a till: no 0/O or 1/I.
UNAMBIGUOUS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


_last_value = 0
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A time-ordered opaque id like `mem_01jc3v...`: 48 bits of milliseconds, 80 random bits.

    Within one process ids only grow, even in the same millisecond, so "newest first" holds.
    """
    global _last_value
    with _lock:
        value = max((int(time.time() * 1000) << 80) | secrets.randbits(80), _last_value + 1)
        _last_value = value
    return f"{prefix}_{_crockford26(value)}"


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids at once, as `count` calls of new_id in a row would give them (an import makes
    millions: one draw of random bytes, one clock read and one encoding for them all)."""
    global _last_value
    randoms = secrets.token_bytes(10 * count)
    with _lock:
        stamp, value, values = int(time.time() * 1000) << 80, _last_value, []
        for start in range(0, 10 * count, 10):
            value = max(stamp | int.from_bytes(randoms[start:start + 10], "big"), value + 1)
            values.append(value)
        _last_value = value
    # 20 bytes a value (its 17, then 3 zero bytes) are 32 characters exactly: the first 26 are the id.
    text = base64.b32encode(b"".join((value << 6).to_bytes(17, "big") + b"\0\0\0" for value in values))
    text = text.decode().translate(_FROM_RFC4648)
    return [f"{prefix}_{text[start:start + 26]}" for start in range(0, 32 * count, 32)]


# base64's base32 reads 5 bits at a time from the most significant end, as the id's 26 characters
# do; only the alphabet differs. Shifted by 6, the 128-bit value's 130-bit field fills 17 bytes.
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)


def _crockford26(value: int) -> str:
    """The value's 26 Crockford base32 characters, most significant first (C speed: imports make
    millions of ids)."""
    return base64.b32encode((value << 6).to_bytes(17, "big"))[:26].decode().translate(_FROM_RFC4648)


def new_code(length: int) -> str:
    """A random code from the unambiguous alphabet: 5 bits of entropy per character."""
    return "".join(secrets.choice(UNAMBIGUOUS) for _ in range(length))


def normalise_code(text: str) -> str:
    """Codes are case-insensitive and may be typed with spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
