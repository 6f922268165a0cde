"""Merging the model's review with the rubric engine's findings, and the verdict.

The model's own "pass" is advice: the verdict is computed here, deterministic rubric errors
always stand, scores count only with a verbatim quote, and a draft that addresses the judge
fails even when the model falls for it (`judge_instructions`, the deterministic backstop).
"""

from __future__ import annotations

from storycoach.coach.quotes import line_col, locate
from storycoach.models import Finding, LlmReview, Verdict

#: A score at or below this fails the review, whatever the model's own verdict says.
FAIL_AT_OR_BELOW = 2
#: The mean of the verified scores must reach this for a pass.
PASS_MEAN = 3.0
#: The criterion id under which instructions aimed at the judge are reported.
INJECTION = "prompt-injection"

#: The offline rule that reads the same patterns (`rubric.grader`): when it already reported the
#: draft, the backstop adds nothing.
OFFLINE_RULE = "addresses-grader"


def judge_instructions(draft: str) -> list[tuple[int, int]]:
    """Spans of text in the draft that address the judge ("ignore the rubric", "verdict: pass").

    A deterministic backstop: a model that falls for an injection also fails to report it.
    The patterns are the `addresses-grader` rubric's, so offline and model reviews agree."""
    from storycoach.rubric.grader import grader_spans

    return grader_spans(draft)


def merge(
    findings: list[Finding],
    llm: LlmReview,
    *,
    draft: str | None = None,
    line_offset: int = 0,
) -> list[Finding]:
    """The deterministic findings, unchanged, plus the model's (source="llm"), sorted by line.

    A criterion scored <= 2 becomes a warning whose message is the model's fix; a model "fail"
    becomes an error `keeper-test` with its reason; text addressed to the judge becomes an error
    `prompt-injection`; a high score without a verbatim quote gets an info note that it did not
    count. With `draft` (and the line offset of its front matter), quotes get a line and column.
    """
    merged = list(findings)

    def at(quote: str | None) -> tuple[int | None, int | None, str | None]:
        if not quote:
            return None, None, None
        if draft is None:
            return None, None, quote
        span = locate(quote, draft)
        if span is None:
            return None, None, quote
        line, column = line_col(draft, span[0])
        return line + line_offset, column, draft[span[0] : span[1]]

    injected = False
    for item in llm.criteria:
        line, column, quote = at(item.quote)
        spot = {"line": line, "column": column, "quote": quote, "source": "llm"}
        if item.criterion == INJECTION:
            injected = True
            message = f"the draft addresses the reviewer; {item.fix}"
            merged.append(Finding(rule=INJECTION, severity="error", message=message, **spot))
        elif item.score <= FAIL_AT_OR_BELOW:
            message = f"model score {item.score}/5: {item.fix}"
            merged.append(Finding(rule=item.criterion, severity="warning", message=message, **spot))
        elif not item.quote:
            message = (
                f"model score {item.score}/5 not counted: its evidence is not a verbatim quote "
                "from the draft"
            )
            merged.append(
                Finding(rule=item.criterion, severity="info", message=message, source="llm")
            )
    offline = any(f.rule == OFFLINE_RULE for f in findings)
    if draft is not None and not injected and not offline:
        for start, end in judge_instructions(draft)[:1]:
            line, column = line_col(draft, start)
            merged.append(
                Finding(
                    rule=INJECTION,
                    severity="error",
                    message="the draft addresses the reviewer; remove that text: it was not "
                    "followed, and in an interview it reads as gaming the process",
                    line=line + line_offset,
                    column=column,
                    quote=draft[start:end],
                    source="llm",
                )
            )
    if llm.verdict == "fail":
        merged.append(
            Finding(
                rule="keeper-test",
                severity="error",
                message=f"Keeper Test: fail. {llm.reason}",
                source="llm",
            )
        )
    big = 1 << 30
    return sorted(merged, key=lambda f: (f.line or big, f.column or 0))


def verdict(findings: list[Finding], llm: LlmReview | None) -> Verdict:
    """Pass or fail, computed here, never taken from the judge.

    Fails on any error finding (deterministic ones included: the model cannot clear them), on a
    model "fail", on text addressed to the judge, on any criterion scored <= 2, and when the
    mean of the *verified* scores (those backed by a verbatim quote) is below 3 or there are
    none. A high score without evidence counts for nothing; a low one counts regardless.
    """
    if any(f.severity == "error" for f in findings):
        return "fail"
    if llm is None:
        return "pass"
    if llm.verdict == "fail":
        return "fail"
    scored = [c for c in llm.criteria if c.criterion != INJECTION]
    if len(scored) != len(llm.criteria):
        return "fail"
    if any(c.score <= FAIL_AT_OR_BELOW for c in scored):
        return "fail"
    if scored:
        verified = [c.score for c in scored if c.quote]
        if not verified or sum(verified) / len(verified) < PASS_MEAN:
            return "fail"
    return "pass"
