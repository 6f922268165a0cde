"""The mock round's model requests: the next follow-up question, and the rewrite of the draft.

One structured-output request per follow-up and one for the rewrite, through the coach's one
request loop (`ModelClient.complete_json`: retries, one repair, a `CallRecord` per attempt).
The transcript is untrusted: it is fenced in `<draft>` tags like a reviewed draft, and with
`redact` people's names become PERSON_n before sending and are restored in what comes back.

Nothing the model says is trusted. A follow-up must target one of the round's allowed targets
(an open finding or a question probe); anything else returns None and the round asks its
offline follow-up instead. The rewrite is returned as text; the round rejects it if it holds a
name, number or date the candidate never said (`storycoach.mock.invented_facts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from storycoach.coach.client import clip
from storycoach.coach.prompts import PromptError, fence, load_prompt, unfence
from storycoach.coach.redact import Redaction
from storycoach.coach.review import format_question
from storycoach.coach.service import Coach
from storycoach.levels import LEVELS_FILE, load_levels
from storycoach.mock import Ask
from storycoach.models import CallRecord

if TYPE_CHECKING:
    from storycoach.mock import Round

FOLLOW_UP_PROMPT = "mock_follow_up.md"
REWRITE_PROMPT = "mock_rewrite.md"
#: A spoken follow-up is short; a longer one is clipped, not trusted to be a question.
ASK_CHARS = 300


class FollowUpAnswer(BaseModel):
    """The model's next follow-up: the target it chose (an allowed id) and the question."""

    model_config = ConfigDict(extra="forbid")

    targets: str
    question: str


class RewriteAnswer(BaseModel):
    """The model's rewrite of the improved draft, as Markdown with STAR headings."""

    model_config = ConfigDict(extra="forbid")

    draft: str


class FollowUpCoach(Coach):
    """The configured model, asking follow-ups and rewriting the draft for a mock round
    (`storycoach.mock.FollowUpModel`): the coach's client, retries and prompts directory."""

    @property
    def model(self) -> str:
        return self.settings.model

    def _band(self, level: str | None) -> tuple[str, str]:
        """The level band's name and what it expects, as the review prompt cites them."""
        levels = load_levels(self.prompts_dir / LEVELS_FILE)
        band = levels.band(level or levels.default)
        if band is None:
            raise PromptError(f"levels.toml has no band for level {level!r}")
        return (band.name if level else f"not given; judge against {band.name}"), band.expects

    def follow_up(
        self, rnd: Round, *, redact: bool, names: Sequence[str]
    ) -> tuple[Ask | None, list[CallRecord]]:
        """One request for the next follow-up; None (use the offline one) when the model
        targets something that is not open or asks nothing."""
        allowed = rnd.targets()
        gaps = "\n".join(f"- {f.rule} ({f.severity}): {f.message}" for f in rnd.findings)
        material = f"{transcript(rnd)}\n\nGaps the rubric found:\n{gaps or '(none)'}"
        redaction, sent = _redact(material, redact, names)
        band, expects = self._band(rnd.level)
        targets_text = "\n".join(
            f"- {key}: {' '.join(value.split())}"
            for key, value in allowed.items()
            if not key.startswith("probe:")
        )
        probes = [f"- {key}: {value}" for key, value in allowed.items() if key.startswith("probe:")]
        if probes:
            targets_text += "\n" + "\n".join(probes)
        messages = load_prompt(self.prompts_dir / FOLLOW_UP_PROMPT).render(
            {
                "question": format_question(rnd.question),
                "level_band": band,
                "level_expects": expects,
                "targets": targets_text,
                "transcript": fence(sent),
            }
        )
        answer, calls = self.complete_json(
            messages, FollowUpAnswer, name="mock_follow_up", task="ask a follow-up"
        )
        target = answer.targets.strip()
        question = redaction.restore(unfence(" ".join(answer.question.split())))
        if target not in allowed or not question:
            return None, calls
        return Ask(clip(question, ASK_CHARS), target, "llm"), calls

    def rewrite(
        self, rnd: Round, offline: str, *, redact: bool, names: Sequence[str]
    ) -> tuple[str | None, list[CallRecord]]:
        """One request for the rewrite of the offline draft; the caller checks its facts."""
        material = f"{transcript(rnd)}\n\n\0\n\n{offline}"
        redaction, sent = _redact(material, redact, names)
        said, _, draft = sent.partition("\n\n\0\n\n")
        band, expects = self._band(rnd.level)
        messages = load_prompt(self.prompts_dir / REWRITE_PROMPT).render(
            {
                "question": format_question(rnd.question),
                "level_band": band,
                "level_expects": expects,
                "transcript": fence(said),
                "draft": fence(draft),
            }
        )
        answer, calls = self.complete_json(
            messages, RewriteAnswer, name="mock_rewrite", task="rewrite the draft"
        )
        text = redaction.restore(unfence(answer.draft)).strip()
        return (text or None), calls


def transcript(rnd: Round) -> str:
    """The round so far as the interviewer heard it."""
    lines = []
    for turn in rnd.turns:
        lines.append(f"Interviewer: {turn.ask}")
        lines.append(f"Candidate: {turn.answer}")
    return "\n".join(lines)


def _redact(text: str, redact: bool, names: Sequence[str]) -> tuple[Redaction, str]:
    if not redact:
        return Redaction(), text
    return Redaction.build(text, names)
