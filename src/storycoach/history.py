"""Review history: the stored reviews as `history` shows them, with their model usage totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storycoach.models import CallRecord

if TYPE_CHECKING:
    from storycoach.bank import Bank


def review_history(
    bank: Bank, *, question: str | None = None, story: int | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Stored reviews, newest first, each with its counts, its model calls and their totals
    (the `history --json` rows). An unknown question id is an input error."""
    if question:
        bank.question(question)
    return [_entry(r) for r in bank.reviews(question=question, story=story, limit=limit)]


def _entry(r: dict[str, Any]) -> dict[str, Any]:
    findings = r["findings"]
    llm = r["llm"] or {}
    scores = [c["score"] for c in llm.get("criteria", [])]
    calls = r["calls"]
    return {
        "id": r["id"],
        "created": r["created"],
        "path": r["path"],
        "story_id": r["story_id"],
        "question": r["question_id"],
        "level": r["level"],
        "verdict": r["verdict"],
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "rules": sorted({f.rule for f in findings}),
        "draft_hash": r["draft_hash"],
        "llm_status": r["llm_status"],
        "llm_model": llm.get("model"),
        "llm_mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        "calls": [CallRecord.model_validate(_fields(c)).model_dump() for c in calls],
        "tokens_in": sum(c["tokens_in"] or 0 for c in calls),
        "tokens_out": sum(c["tokens_out"] or 0 for c in calls),
        "cost_usd": round(sum(c["cost_usd"] or 0 for c in calls), 6) or None,
    }


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """An `llm_calls` row's `CallRecord` fields (not its id, review id or time)."""
    return {name: row[name] for name in CallRecord.model_fields}
