"""Endpoint signing secrets: drawn once, shown once, kept encrypted.

The key is derived from SECRET_KEY (HKDF-SHA256), so a database dump alone does not let anyone
sign deliveries. Changing SECRET_KEY makes the stored secrets unreadable: rotate every endpoint's
secret afterwards (docs/webhooks.md).
"""
import base64
import functools
import secrets as random

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + random.token_urlsafe(32)


@functools.cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"loyalty outbound webhook secrets").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str) -> bytes:
    return _fernet(current_app.config["SECRET_KEY"]).encrypt(secret.encode())


def decrypt(token: bytes) -> str:
    return _fernet(current_app.config["SECRET_KEY"]).decrypt(token).decode()
