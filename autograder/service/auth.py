"""Who is asking: the student a request's token belongs to.

Two authenticators, one interface (``await auth.student(token)`` → the
student id, or ``None``):

* :class:`TokenFile` — standalone: a JSON file ``{"student id": "token", …}``
  that the instructor makes with ``nngrade tokens`` (:func:`make_tokens`)
  and hands out one line each; tokens are compared through their SHA-256.
* :class:`HubTokens` — as a JupyterHub service: the token is the API token
  of the student's own single-user server (``JUPYTERHUB_API_TOKEN`` in their
  kernel), resolved to the hub user through jupyterhub's own
  :class:`jupyterhub.services.auth.HubAuth` (its cache, its hub URL and
  the service's token from the environment the hub gives a service).

:func:`token_of` reads ``Authorization: token X`` (or ``Bearer X``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path

__all__ = ["TokenFile", "HubTokens", "token_of", "make_tokens", "STUDENT_ID"]

#: a student id usable as a variant key and in file names
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def token_of(header: str | None) -> str | None:
    """The token in an ``Authorization`` header value, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return None


class TokenFile:
    """Per-student tokens from a JSON file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read the token file ({exc})") from None
        if type(data) is not dict or not data:
            raise ValueError(f"{path}: must be a JSON object {{student id: token}}")
        self._by_digest: dict[bytes, str] = {}
        for student, token in data.items():
            if not STUDENT_ID.fullmatch(str(student)) or type(token) is not str or len(token) < 16:
                raise ValueError(f"{path}: entry {student!r}: a student id and a token of at "
                                 f"least 16 characters are required")
            d = _digest(token)
            if d in self._by_digest:
                raise ValueError(f"{path}: {student!r} and {self._by_digest[d]!r} share a token")
            self._by_digest[d] = student

    async def student(self, token: str | None) -> str | None:
        return self._by_digest.get(_digest(token)) if token else None


class HubTokens:
    """JupyterHub API tokens → hub user names (see the module docstring).
    ``hub_auth``: a ready :class:`~jupyterhub.services.auth.HubAuth`
    (default: one configured from the service environment)."""

    def __init__(self, hub_auth=None):
        if hub_auth is None:
            try:
                from jupyterhub.services.auth import HubAuth
            except ImportError:
                raise ValueError("--hub needs jupyterhub installed (pip install "
                                 "'nn-backprop-grader[hub]')") from None
            hub_auth = HubAuth(cache_max_age=60)
        self.hub_auth = hub_auth

    async def student(self, token: str | None) -> str | None:
        if not token:
            return None
        model = await self.hub_auth.user_for_token(token, sync=False)
        if not model or model.get("kind", "user") != "user":
            return None
        return model.get("name")


def make_tokens(students: list[str], existing: dict | None = None) -> dict[str, str]:
    """``{student: token}`` for ``students`` (keeping ``existing`` tokens)."""
    out = dict(existing or {})
    for s in students:
        if not STUDENT_ID.fullmatch(s):
            raise ValueError(f"{s!r} is not a valid student id (letters, digits, _ . @ -)")
        out.setdefault(s, secrets.token_urlsafe(24))
    return out
