"""Bilingual (中文 / English) feedback messages.

Every piece of feedback the autograder gives is a :class:`Message` holding a
Chinese and an English text. It is rendered in the course language at the
last moment:

* ``"zh"``    — Chinese only;
* ``"en"``    — English only;
* ``"zh+en"`` — Chinese first, then English, **on the next line**
  (the one separator used everywhere).

>>> m = msg("第 {n} 题正确。", "Question {n} is correct.").format(n=2)
>>> print(m.render("zh+en"))
第 2 题正确。
Question 2 is correct.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "SEPARATOR", "Message", "msg", "check_language"]

#: The course languages a message can be rendered in.
LANGUAGES = ("zh", "en", "zh+en")

#: What separates the Chinese and the English text in ``"zh+en"``.
SEPARATOR = "\n"


def check_language(language: str) -> str:
    """Return ``language`` if it is one of :data:`LANGUAGES`, else raise ValueError."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; "
                         f"use one of {', '.join(repr(x) for x in LANGUAGES)}")
    return language


@dataclass(frozen=True)
class Message:
    """One piece of feedback in Chinese (``zh``) and English (``en``)."""

    zh: str
    en: str

    def render(self, language: str = "zh+en") -> str:
        """The text in ``language`` (``"zh"``, ``"en"`` or ``"zh+en"``)."""
        check_language(language)
        if language == "zh":
            return self.zh
        if language == "en":
            return self.en
        return f"{self.zh}{SEPARATOR}{self.en}"

    def format(self, **kw) -> "Message":
        """A new Message with both texts passed through ``str.format(**kw)``.

        A value that is itself a Message is inserted in the matching language.
        """
        zh_kw = {k: (v.zh if isinstance(v, Message) else v) for k, v in kw.items()}
        en_kw = {k: (v.en if isinstance(v, Message) else v) for k, v in kw.items()}
        return Message(self.zh.format(**zh_kw), self.en.format(**en_kw))

    def __add__(self, other: "Message") -> "Message":
        """Concatenate two messages language by language (``a + b``)."""
        if not isinstance(other, Message):
            return NotImplemented
        return Message(self.zh + other.zh, self.en + other.en)

    def __str__(self) -> str:
        return self.render("zh+en")


def msg(zh: str, en: str) -> Message:
    """Shorthand for ``Message(zh, en)``."""
    return Message(zh, en)
