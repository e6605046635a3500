"""Writing report files: the error every report raises when it cannot
write, and the helpers that raise it (folders, files written atomically,
names safe as one path component). Shared by every report module and the
CLI, which shows a :class:`ReportError` as its message.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..i18n import Message, msg

__all__ = ["ReportError", "ensure_dir", "write_text", "safe_component"]


class ReportError(OSError):
    """A report that cannot be written; ``message`` holds both languages
    (``str(error)`` is Chinese, then English) and names the path."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(message.render("zh+en"))


def safe_component(value: str, what: str) -> str:
    """``value`` if it can be one path component (no separators, not
    ``.``/``..``, no surrounding spaces), else ``ValueError`` naming it."""
    if type(value) is not str or not value or value in (".", "..") or \
            any(ch in value for ch in ("/", "\\", "\0")) or value != value.strip():
        raise ValueError(msg(f"{what} {value!r} 不能用作文件名或目录名。",
                             f"{what} {value!r} cannot be used as a file or folder name")
                         .render("zh+en"))
    return value


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create folder ``path`` (with parents); a :class:`ReportError` names it
    when it cannot be created or written to."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(msg(f"无法创建输出目录 {path}：{exc.strerror or exc}",
                              f"cannot create the output folder {path}: "
                              f"{exc.strerror or exc}")) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ReportError(msg(f"输出目录 {path} 不可写。",
                              f"the output folder {path} is not writable."))
    return path


def write_text(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` through a
    temporary file and a rename, so no reader sees half a file; a
    :class:`ReportError` names the path on failure."""
    path = Path(path)
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise ReportError(msg(f"无法写入 {path}：{exc.strerror or exc}",
                              f"cannot write {path}: {exc.strerror or exc}")) from None
    return path
