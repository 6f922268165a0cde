"""The LLM coach: one structured-output request per draft, validated, merged, never trusted.

One module per concern:

- `client`: `make_client` (the only place `openai` is imported, lazily), `ModelClient` with the
  retry, backoff and repair loop, which returns a `CallRecord` per attempt;
- `prompts`: prompt files (system message, `<!-- user -->`, user message; `string.Template`),
  the level bands, and `strict_schema`, the one builder of response schemas;
- `review`: the request for one draft and the answer read back as an `LlmReview`;
- `links`: the batched link request of `coverage --llm` and its filtered answer;
- `redact`: names swapped for PERSON_n before sending and restored after;
- `quotes`: where a quoted span sits in the draft;
- `judge`: the model's review merged with the rubric findings, and the verdict;
- `followup`: the mock round's requests (the next follow-up question, the rewrite);
- `service`: `Coach`, the one object the core holds.

Importing this package does not import `openai`: offline commands do not pay ~0.3 s for it.
"""

from storycoach.coach.client import ModelClient, make_client
from storycoach.coach.judge import INJECTION, merge, verdict
from storycoach.coach.links import LinkAnswer, LinkProposal, LinkRequest
from storycoach.coach.prompts import PromptError, render_template, strict_schema
from storycoach.coach.service import Coach
from storycoach.models import CallRecord

__all__ = [
    "INJECTION",
    "CallRecord",
    "Coach",
    "LinkAnswer",
    "LinkProposal",
    "LinkRequest",
    "ModelClient",
    "PromptError",
    "make_client",
    "merge",
    "render_template",
    "strict_schema",
    "verdict",
]
