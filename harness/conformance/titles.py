"""A TC's human title, the one rule every output shares (JUnit names, Allure titles, the HTML certificate).

In order: the ``title=`` of the TC's ``tc`` marker; else the first sentence of the test's docstring, when it is
a plain sentence of at most :data:`MAX_TITLE` characters (not one that opens with its source, such as
``PROTOCOL.md §1.4: ...`` or a quoted seed sentence, which is the requirement's wording rather than a title);
else the test function's name read as words (``test_the_device_activates_with_the_8_character_token`` ->
``the device activates with the 8 character token``), which is how the suites name their tests.
"""

from __future__ import annotations

import re

MAX_TITLE = 100

_CITATION = re.compile(r'^\s*(["“]|[A-Z][A-Za-z]*\.md\b|seeds?\b|§)')
_SENTENCE_END = re.compile(r"\.(\s|$)")


def first_sentence(docstring: str | None) -> str | None:
    """The docstring's first sentence on one line, without its final full stop (None for an empty docstring)."""
    if not docstring or not docstring.strip():
        return None
    paragraph = " ".join(docstring.strip().split("\n\n", 1)[0].split())
    end = _SENTENCE_END.search(paragraph)
    return paragraph[: end.start()] if end else paragraph


def words_of(function: str) -> str:
    """A test function's name as words: the ``test_`` prefix, parameters and underscores gone."""
    name = function.split("[", 1)[0].removeprefix("test_").strip("_")
    return re.sub(r"_+", " ", name) or function


def tc_title(*, title: str | None, docstring: str | None, function: str) -> str:
    """The TC's title by the rule of this module."""
    if title and title.strip():
        return " ".join(title.split())
    sentence = first_sentence(docstring)
    if sentence and len(sentence) <= MAX_TITLE and not _CITATION.match(sentence):
        return sentence
    return words_of(function)


def display_name(tc_id: str, title: str, params: str | None = None) -> str:
    """``TC-QR-007 the device activates with the 8 character token`` (``[params]`` after it for a parametrized
    case): what CI views show as the test's name."""
    return f"{tc_id} {title}" + (f" [{params}]" if params else "")


__all__ = ["MAX_TITLE", "display_name", "first_sentence", "tc_title", "words_of"]
