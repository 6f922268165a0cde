"""The one name finder: people named in a draft, by how each sentence uses the word.

`find_people` is what the `missing-names` rule counts and what `--redact` replaces, so the two
can never disagree about who is a person. It reads the draft through the one text model
(`rubric.text.Doc`) and the `missing-names` rubric file (its lexicons are a prior, sentence
context decides), and answers with spans in the ORIGINAL text.
"""

from __future__ import annotations

from storycoach.rubric.detectors.names import Names
from storycoach.rubric.text import Doc

#: The rubric criterion whose detector and word lists define who is a person.
CRITERION = "missing-names"


def find_people(text: str, *, redact: bool = False) -> list[tuple[int, int]]:
    """Spans (start, end) in `text` of people's names, in text order.

    With `redact`, a capitalised word the finder cannot classify (an unknown proper noun, a
    capitalised word opening a sentence that the draft never writes in lowercase) is included:
    a word replaced by mistake is restored in the answer, a name sent by mistake is not.
    """
    from storycoach.rubric.loader import detector_of

    doc = Doc(text)
    return [
        doc.source_span(a, b) for a, b in detector_of(CRITERION, Names).find(doc, redact=redact)
    ]


def people_names(text: str, *, redact: bool = False) -> list[str]:
    """The distinct names `find_people` finds, in order of first appearance."""
    seen: dict[str, None] = {}
    for start, end in find_people(text, redact=redact):
        seen.setdefault(text[start:end], None)
    return list(seen)
