"""`storycoach questions ...` and `storycoach markers`: the seeded question bank and markers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
QUESTION_BANK = SEEDS / "000_49075b44ab64a1e7.txt"
GUIDE = SEEDS / "003_d169c9727d985a63.txt"

CONTRACT_KEYS = {"id", "text", "company", "roles", "difficulty", "tags", "markers", "probes"}
CONTRACT_MARKERS = (
    "context-not-control",
    "farming-for-dissent",
    "keeper-test",
    "freedom-and-responsibility",
    "candid-feedback",
    "highly-aligned-loosely-coupled",
)
GUIDE_QUESTIONS = {
    "dissented-from-decision": "Tell me about a time you dissented from a decision",
    "received-critical-feedback": "Tell me about a time you received critical feedback",
    "navigated-significant-ambiguity": "Describe a time you navigated significant ambiguity",
    "influenced-product-decision": "Tell me about a time you influenced a product decision",
    "reverse-system-design": "Reverse system design: walk me through a system you built",
    "partner-deploy-broke-service": (
        "A partner team’s deploy broke your service. Walk me through the next 24 hours"
    ),
}


@dataclass
class SeedQuestion:
    role: str
    category: str
    difficulty: str
    text: str
    tags: list[str]


def parse_question_bank(path: Path) -> list[SeedQuestion]:
    """Entries of the seed bank: `Role / • / Category / • / difficulty / text / #tags...`."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    entries = []
    for i in range(len(lines) - 5):
        if lines[i + 1] == "•" and lines[i + 3] == "•":
            tags = []
            j = i + 6
            while j < len(lines) and lines[j].startswith("#"):
                tags.append(lines[j].removeprefix("#"))
                j += 1
            entries.append(SeedQuestion(lines[i], lines[i + 2], lines[i + 4], lines[i + 5], tags))
    return entries


@pytest.fixture
def seed_behavioral() -> list[SeedQuestion]:
    if not QUESTION_BANK.is_file():
        pytest.skip(f"seed question bank not found at {QUESTION_BANK}")
    behavioral = [q for q in parse_question_bank(QUESTION_BANK) if q.category == "Behavioral"]
    assert len(behavioral) == 20, "the seed format changed: fix parse_question_bank"
    return behavioral


@pytest.fixture
def listed(invoke: Callable, json_of: Callable) -> list[dict]:
    return json_of(invoke("questions", "list", "--json"))


def test_list_json_has_the_contract_keys(listed: list[dict]) -> None:
    assert listed
    for question in listed:
        assert question.keys() >= CONTRACT_KEYS, question["id"]
        assert isinstance(question["roles"], list)
        assert isinstance(question["tags"], list)
        assert isinstance(question["markers"], list)
        assert isinstance(question["probes"], list)
        assert question["difficulty"] in (None, "easy", "medium", "hard")
    ids = [q["id"] for q in listed]
    assert len(ids) == len(set(ids))


def test_every_seed_behavioral_question_is_listed_verbatim(
    listed: list[dict], seed_behavioral: list[SeedQuestion]
) -> None:
    by_text = {q["text"]: q for q in listed}
    for seed in seed_behavioral:
        assert seed.text in by_text, f"missing seed question: {seed.text[:70]}"
        question = by_text[seed.text]
        assert seed.role in question["roles"], question["id"]
        assert question["tags"] == seed.tags, question["id"]
        assert question["difficulty"] == seed.difficulty, question["id"]
        assert question["company"] == "Netflix"
        assert question["markers"], f"{question['id']} has no culture marker"
        assert question["probes"], f"{question['id']} has no probes"


def test_seed_bank_has_no_non_behavioral_questions(listed: list[dict]) -> None:
    if not QUESTION_BANK.is_file():
        pytest.skip(f"seed question bank not found at {QUESTION_BANK}")
    others = {q.text for q in parse_question_bank(QUESTION_BANK) if q.category != "Behavioral"}
    assert others
    assert not others & {q["text"] for q in listed}


def test_guide_questions_are_present_with_probes(listed: list[dict]) -> None:
    by_id = {q["id"]: q for q in listed}
    for question_id, text in GUIDE_QUESTIONS.items():
        question = by_id[question_id]
        assert question["text"] == text
        assert len(question["probes"]) >= 3, question_id
        assert question["probing"], question_id
        assert "keeper-test" in question["markers"], question_id


def test_guide_questions_match_the_guide(listed: list[dict]) -> None:
    if not GUIDE.is_file():
        pytest.skip(f"seed guide not found at {GUIDE}")
    lines = [line.strip() for line in GUIDE.read_text(encoding="utf-8").splitlines()]
    by_id = {q["id"]: q for q in listed}
    for question_id, text in GUIDE_QUESTIONS.items():
        assert text in lines, f"{text!r} is not a heading of the guide"
        start = lines.index(text)
        probing = next(
            line for line in lines[start:] if line.startswith("What they’re really probing:")
        )
        quoted = probing.removeprefix("What they’re really probing:").strip()
        assert by_id[question_id]["probing"].lower() == quoted.lower(), question_id


def test_marker_filter(invoke: Callable, json_of: Callable, listed: list[dict]) -> None:
    for slug in ("farming-for-dissent", "context-not-control", "keeper-test"):
        filtered = json_of(invoke("questions", "list", "--marker", slug, "--json"))
        assert filtered
        assert filtered == [q for q in listed if slug in q["markers"]]
    dissent = json_of(invoke("questions", "list", "-m", "farming-for-dissent", "--json"))
    assert "dissented-from-decision" in {q["id"] for q in dissent}
    assert "received-critical-feedback" not in {q["id"] for q in dissent}


def test_role_filter(invoke: Callable, json_of: Callable, listed: list[dict]) -> None:
    engineers = json_of(invoke("questions", "list", "--role", "Software Engineer", "--json"))
    assert engineers == [q for q in listed if "Software Engineer" in q["roles"]]
    assert set(GUIDE_QUESTIONS) <= {q["id"] for q in engineers}
    lower = json_of(invoke("questions", "list", "--role", "software engineer", "--json"))
    assert lower == engineers
    cloud = json_of(invoke("questions", "list", "--role", "Cloud Engineer", "--json"))
    assert len(cloud) == 3
    both = json_of(
        invoke(
            "questions",
            "list",
            "--role",
            "Product Manager",
            "--marker",
            "context-not-control",
            "--json",
        )
    )
    assert both
    assert all("Product Manager" in q["roles"] for q in both)
    assert all("context-not-control" in q["markers"] for q in both)


def test_unknown_role_is_an_error_that_says_where_roles_are(
    invoke: Callable, expect_error: Callable
) -> None:
    expect_error(invoke("questions", "list", "--role", "Astronaut"), "unknown role 'Astronaut'")
    expect_error(
        invoke("questions", "list", "--role", "software"),
        "Did you mean: Software Engineer?",
        "`storycoach questions list`",
    )


def test_unknown_question_says_where_ids_are(invoke: Callable, expect_error: Callable) -> None:
    expect_error(invoke("questions", "show", "nope"), "unknown question 'nope'", "questions list")


def test_unknown_marker_filter_suggests(invoke: Callable, expect_error: Callable) -> None:
    result = invoke("questions", "list", "--marker", "farming-for-disent")
    expect_error(result, "unknown marker 'farming-for-disent'", "farming-for-dissent")


def test_human_list(invoke: Callable) -> None:
    result = invoke("questions", "list", "--role", "Cloud Engineer")
    assert result.exit_code == 0
    assert "push-back-senior-architecture" in result.stdout


def test_markers_have_meanings(invoke: Callable, json_of: Callable) -> None:
    markers = {m["slug"]: m for m in json_of(invoke("markers", "--json"))}
    for slug in CONTRACT_MARKERS:
        assert slug in markers
        assert markers[slug]["name"]
        assert len(markers[slug]["meaning"]) > 40
    human = invoke("markers")
    assert human.exit_code == 0
    assert "context-not-control" in human.stdout


def test_every_question_marker_is_a_known_marker(
    invoke: Callable, json_of: Callable, listed: list[dict]
) -> None:
    slugs = {m["slug"] for m in json_of(invoke("markers", "--json"))}
    for question in listed:
        assert set(question["markers"]) <= slugs, question["id"]
    for slug in slugs:
        assert any(slug in q["markers"] for q in listed), f"marker {slug} is never used"


def test_show(invoke: Callable, json_of: Callable) -> None:
    result = invoke("questions", "show", "dissented-from-decision")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Tell me about a time you dissented from a decision" in out
    assert "Really probing:" in out
    assert "farming-for-dissent" in out
    assert "Stories linked: none yet" in out
    shown = json_of(invoke("questions", "show", "dissented-from-decision", "--json"))
    assert shown["id"] == "dissented-from-decision"
    assert shown["source"] == "seed"
    assert shown.keys() >= CONTRACT_KEYS


def test_show_lists_linked_stories(
    invoke: Callable, story_args: Callable, json_of: Callable
) -> None:
    json_of(invoke("story", "add", *story_args(), "-q", "reverse-system-design", "--json"))
    result = invoke("questions", "show", "reverse-system-design")
    assert "Stories linked: #1" in result.stdout


def test_show_unknown_id_suggests(invoke: Callable, expect_error: Callable) -> None:
    result = invoke("questions", "show", "recieved-critical-feedback")
    expect_error(result, "unknown question", "Did you mean: received-critical-feedback")


def test_add_question(invoke: Callable, json_of: Callable) -> None:
    result = invoke(
        "questions",
        "add",
        "--id",
        "led-migration",
        "--text",
        "Tell me about a migration you led",
        "--company",
        "Acme",
        "--role",
        "SRE",
        "--difficulty",
        "hard",
        "--tag",
        "Ownership",
        "--marker",
        "freedom-and-responsibility",
        "--theme",
        "leadership",
        "--level",
        "e5",
        "--probe",
        "Name the cutover date",
    )
    assert result.exit_code == 0, result.stderr
    assert "Added question led-migration" in result.stdout
    listed = json_of(invoke("questions", "list", "--json"))
    [mine] = [q for q in listed if q["id"] == "led-migration"]
    assert mine["source"] == "user"
    assert mine["roles"] == ["SRE"]
    assert mine["levels"] == ["E5"]
    assert mine["markers"] == ["freedom-and-responsibility"]
    assert mine["probes"] == ["Name the cutover date"]
    assert listed[0]["id"] == "led-migration"  # user questions first
    sre = json_of(invoke("questions", "list", "--role", "SRE", "--json"))
    assert [q["id"] for q in sre] == ["led-migration"]
    # and a story can link to it
    assert invoke("questions", "show", "led-migration", "--json").exit_code == 0


BAD_QUESTIONS = {
    "not a slug": (["--id", "Led Migration", "--text", "x"], "kebab-case"),
    "empty text": (["--id", "led-migration", "--text", "  "], "text must not be empty"),
    "duplicate seed id": (["--id", "dissented-from-decision", "--text", "x"], "already exists"),
    "unknown marker": (["--id", "led-migration", "--text", "x", "-m", "nope"], "unknown marker"),
    "bad difficulty": (
        ["--id", "led-migration", "--text", "x", "--difficulty", "brutal"],
        "difficulty",
    ),
    "bad level": (["--id", "led-migration", "--text", "x", "--level", "E9"], "levels"),
}


@pytest.mark.parametrize(("args", "fragment"), BAD_QUESTIONS.values(), ids=BAD_QUESTIONS.keys())
def test_bad_question_add(
    invoke: Callable,
    expect_error: Callable,
    db_counts: Callable,
    args: list[str],
    fragment: str,
) -> None:
    assert invoke("markers", "--json").exit_code == 0  # the bank exists
    before = db_counts()
    expect_error(invoke("questions", "add", *args), fragment)
    assert db_counts() == before


def test_duplicate_user_question(invoke: Callable, expect_error: Callable, db_counts) -> None:
    args = ["questions", "add", "--id", "my-q", "--text", "First wording"]
    assert invoke(*args).exit_code == 0
    before = db_counts()
    expect_error(invoke(*args[:-1], "Second wording"), "'my-q' already exists")
    assert db_counts() == before


def test_questions_add_requires_id_and_text(invoke: Callable) -> None:
    result = invoke("questions", "add", "--text", "no id")
    assert result.exit_code == 2
    assert "--id" in result.stderr
