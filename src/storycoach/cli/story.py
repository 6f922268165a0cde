"""`storycoach story ...`: the story bank from the command line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from storycoach.cli.common import (
    JsonOption,
    app_dir,
    console,
    emit_json,
    escape,
    fail,
    interactive,
    launch_editor,
    open_bank,
)

if TYPE_CHECKING:
    from storycoach.models import Story

app = typer.Typer(no_args_is_help=True)

Questions = Annotated[
    list[str] | None,
    typer.Option("--question", "-q", help="Question id this story answers (repeatable)."),
]
Markers = Annotated[
    list[str] | None,
    typer.Option("--marker", "-m", help="Culture marker slug it shows (repeatable)."),
]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="Free tag (repeatable).")]
StoryId = Annotated[int, typer.Argument(help="Story id (see `storycoach story list`).")]


def _field_options(
    title: str | None,
    situation: str | None,
    task: str | None,
    action: str | None,
    result: str | None,
    reflection: str | None,
    when: str | None,
    company: str | None,
    team: str | None,
    person: list[str] | None,
    metric: list[str] | None,
    tag: list[str] | None,
    level: str | None,
    question: list[str] | None,
    marker: list[str] | None,
) -> dict[str, Any]:
    """The flags the user actually gave, as story fields.

    An empty flag is kept (``--title ""`` must fail as an empty title, and ``--company ""``
    clears the company); only flags not given at all are left out.
    """
    fields = {
        "title": title,
        "situation": situation,
        "task": task,
        "action": action,
        "result": result,
        "reflection": reflection,
        "when": when,
        "company": company,
        "team": team,
        "people": person,
        "metrics": metric,
        "tags": tag,
        "level": level,
        "questions": question,
        "markers": marker,
    }
    return {k: v for k, v in fields.items() if v is not None and v != []}


def _edit_in_editor(text: str, retry: str = "storycoach story add --from") -> Story | None:
    """Open `$EDITOR`; on a bad file keep the user's text in a recovery file, never lose it.

    `retry` is the command the error suggests, followed by the recovery file's path.
    """
    from storycoach.errors import StorycoachError
    from storycoach.storyfile import story_from_text

    edited = launch_editor(text)
    if edited is None or edited.strip() == text.strip():
        return None
    try:
        return story_from_text(edited, "the edited story")
    except StorycoachError as error:
        from datetime import datetime

        folder = app_dir() / "recovered"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"story-{datetime.now():%Y%m%d-%H%M%S}"
        recovery = folder / f"{stem}.md"
        n = 1
        while recovery.exists():  # two failures in one second must not overwrite each other
            n += 1
            recovery = folder / f"{stem}-{n}.md"
        recovery.write_text(edited, encoding="utf-8")
        raise StorycoachError(
            f"{error}. Your text is saved in {recovery}; fix it and run `{retry} {recovery}`"
        ) from None


def _print_story(story: Story) -> None:
    from rich.markdown import Markdown

    out = console()
    out.print(f"[bold]#{story.id} {escape(story.title)}[/bold]")
    facts = [
        ("when", story.when or "(no date)"),
        ("company", " / ".join(x for x in (story.company, story.team) if x)),
        ("people", ", ".join(f"{p.name} ({p.role})" if p.role else p.name for p in story.people)),
        ("level", story.level or ""),
        ("questions", ", ".join(story.questions)),
        ("markers", ", ".join(story.markers)),
        ("tags", ", ".join(story.tags)),
        ("metrics", "; ".join(story.metrics)),
        ("retired", "yes" if story.retired else ""),
    ]
    for key, value in facts:
        if value:
            out.print(f"[dim]{key:>9}[/dim]  {escape(value)}")
    out.print(Markdown(story.body()))


@app.command("add")
def add(
    title: Annotated[str | None, typer.Option(help="A short title.")] = None,
    situation: Annotated[str | None, typer.Option(help="S: the context.")] = None,
    task: Annotated[str | None, typer.Option(help="T: what you had to do.")] = None,
    action: Annotated[str | None, typer.Option(help="A: what YOU did and decided.")] = None,
    result: Annotated[str | None, typer.Option(help="R: the measurable outcome.")] = None,
    reflection: Annotated[str | None, typer.Option(help="What changed in you since.")] = None,
    when: Annotated[
        str | None, typer.Option(help="When it happened: 2024-03 or 2024-03-17.")
    ] = None,
    company: Annotated[str | None, typer.Option(help="Company.")] = None,
    team: Annotated[str | None, typer.Option(help="Team.")] = None,
    person: Annotated[
        list[str] | None,
        typer.Option("--person", help='Someone in the story: "Priya Raman (staff engineer)".'),
    ] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="A measured result.")] = None,
    tag: Tags = None,
    level: Annotated[str | None, typer.Option(help="Level band the story shows: E3..E7.")] = None,
    question: Questions = None,
    marker: Markers = None,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from", help="Read a story file (Markdown, front matter, STAR headings); - is stdin."
        ),
    ] = None,
    from_mock: Annotated[
        int | None,
        typer.Option(
            "--from-mock",
            metavar="SESSION",
            help="Save a mock round's improved draft, linked to its question.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a story from flags, a story file, stdin, a mock round, or (in a terminal) $EDITOR."""
    from storycoach.storyfile import TEMPLATE, read_text, story_from_fields, story_from_text

    if from_mock is not None:
        _add_from_mock(from_mock, as_json)
        return

    fields = _field_options(
        title, situation, task, action, result, reflection, when, company, team,
        person, metric, tag, level, question, marker,
    )  # fmt: skip
    if from_file:
        story = story_from_text(
            read_text(from_file), "standard input" if from_file == "-" else from_file
        )
        if fields:
            story = story_from_fields({**story.model_dump(exclude={"id"}), **fields})
    elif {"title", "situation", "task", "action", "result"} & fields.keys():
        story = story_from_fields(fields, "the story")
    elif interactive():
        edited = _edit_in_editor(TEMPLATE)
        if edited is None:
            raise fail("nothing saved (the template was left empty)", 1)
        story = edited
    else:
        raise fail(
            "give the story as --title/--situation/--task/--action/--result, "
            "or --from FILE (use --from - for stdin)"
        )
    saved = open_bank().add_story(story)
    if as_json:
        emit_json(saved)
    else:
        console().print(f"Added story #{saved.id}: {escape(saved.title)}")
        if not saved.questions:
            console().print(
                f"Link it to a question: storycoach story link {saved.id} --question ID"
            )


def _add_from_mock(session_id: int, as_json: bool) -> None:
    """`story add --from-mock`: the improved draft as a story; in a terminal, a draft that
    lacks a STAR part opens in $EDITOR to fill it in."""
    from storycoach.errors import StorycoachError
    from storycoach.mock import session_story_text, story_from_session

    bank = open_bank()
    session = bank.mock_session(session_id)
    try:
        story = story_from_session(session)
    except StorycoachError:
        if not interactive():
            raise
        edited = _edit_in_editor(session_story_text(session))
        if edited is None:
            raise fail("nothing saved (the draft was left as it was)", 1) from None
        story = edited
    saved = bank.add_story(story)
    if as_json:
        emit_json(saved)
    else:
        console().print(
            f"Added story #{saved.id} from mock session #{session_id}: {escape(saved.title)}"
        )


@app.command("list")
def list_(
    question: Annotated[
        str | None, typer.Option("--question", "-q", help="Only stories linked to this question.")
    ] = None,
    marker: Annotated[
        str | None, typer.Option("--marker", "-m", help="Only stories showing this marker.")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only stories with this tag.")] = None,
    active: Annotated[bool, typer.Option("--active", help="Hide retired stories.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List stories with their links and latest review verdict."""
    bank = open_bank()
    stories = bank.stories(question=question, marker=marker, tag=tag, include_retired=not active)
    verdicts = bank.latest_verdicts()
    if as_json:
        emit_json([{**s.model_dump(mode="json"), "verdict": verdicts.get(s.id)} for s in stories])
        return
    if not stories:
        console().print("No stories yet. Add one: storycoach story add --help")
        return
    from rich.table import Table

    table = Table("id", "title", "when", "questions", "markers", "verdict", box=None)
    for s in stories:
        verdict = verdicts.get(s.id, "")
        style = {"pass": "green", "fail": "red"}.get(verdict, "")
        table.add_row(
            str(s.id),
            escape(s.title) + (" [dim](retired)[/dim]" if s.retired else ""),
            s.when or "",
            ", ".join(s.questions),
            ", ".join(s.markers),
            f"[{style}]{verdict}[/{style}]" if style else "",
        )
    console().print(table)


@app.command("show")
def show(
    story_id: StoryId,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the story file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show one story."""
    story = open_bank().story(story_id)
    if as_json:
        emit_json(story)
    elif markdown:
        from storycoach.storyfile import story_to_text

        typer.echo(story_to_text(story), nl=False)
    else:
        _print_story(story)


@app.command("edit")
def edit(
    story_id: StoryId,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    situation: Annotated[str | None, typer.Option(help="New situation.")] = None,
    task: Annotated[str | None, typer.Option(help="New task.")] = None,
    action: Annotated[str | None, typer.Option(help="New action.")] = None,
    result: Annotated[str | None, typer.Option(help="New result.")] = None,
    reflection: Annotated[str | None, typer.Option(help="New reflection.")] = None,
    when: Annotated[str | None, typer.Option(help="New date: 2024-03.")] = None,
    company: Annotated[str | None, typer.Option(help="New company.")] = None,
    team: Annotated[str | None, typer.Option(help="New team.")] = None,
    person: Annotated[
        list[str] | None, typer.Option("--person", help="Replace the people.")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="Replace the metrics.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Replace the tags.")] = None,
    level: Annotated[str | None, typer.Option(help="New level band.")] = None,
    retired: Annotated[
        bool | None,
        typer.Option("--retire/--unretire", help="Retire a worn-out story (kept, not counted)."),
    ] = None,
    from_file: Annotated[
        str | None, typer.Option("--from", help="Replace with a story file.")
    ] = None,
    from_mock: Annotated[
        int | None,
        typer.Option(
            "--from-mock",
            metavar="SESSION",
            help="Replace the STAR parts with a mock round's improved draft.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a story: by flags, from a file, or in $EDITOR when no flag is given."""
    from storycoach.storyfile import read_text, story_from_fields, story_from_text, story_to_text

    bank = open_bank()
    current = bank.story(story_id)
    if from_mock is not None:
        from storycoach.mock import story_from_session

        story = story_from_session(bank.mock_session(from_mock), base=current)
        saved = bank.update_story(story_id, story)
        if as_json:
            emit_json(saved)
        else:
            console().print(
                f"Updated story #{saved.id} from mock session #{from_mock}: {escape(saved.title)}"
            )
        return
    fields = _field_options(
        title, situation, task, action, result, reflection, when, company, team,
        person, metric, tag, level, None, None,
    )  # fmt: skip
    if retired is not None:
        fields["retired"] = retired
    if from_file:
        label = "standard input" if from_file == "-" else from_file
        story = story_from_text(read_text(from_file), label)
    elif fields:
        base = current.model_dump(exclude={"id", "created", "updated"})
        story = story_from_fields({**base, **fields})
    elif interactive():
        edited = _edit_in_editor(
            story_to_text(current), retry=f"storycoach story edit {story_id} --from"
        )
        if edited is None:
            console().print("No changes.")
            return
        story = edited
    else:
        raise fail("nothing to change: give field flags or --from FILE")
    saved = bank.update_story(story_id, story)
    if as_json:
        emit_json(saved)
    else:
        console().print(f"Updated story #{saved.id}: {escape(saved.title)}")


@app.command("rm")
def rm(
    story_id: StoryId,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a story and its links (its past reviews stay in history)."""
    bank = open_bank()
    story = bank.story(story_id)
    if not yes:
        if not interactive():
            raise fail("pass --yes to delete without a prompt")
        typer.confirm(f"Delete story #{story.id} {story.title!r}?", abort=True)
    bank.remove_story(story_id)
    if as_json:
        emit_json({"deleted": story_id})
    else:
        console().print(f"Deleted story #{story_id}: {escape(story.title)}")


@app.command("link")
def link(
    story_id: StoryId,
    question: Questions = None,
    marker: Markers = None,
    remove: Annotated[bool, typer.Option("--remove", help="Unlink instead of link.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Link a story to the questions it answers and the culture markers it shows."""
    if not question and not marker:
        raise fail("give at least one --question ID or --marker SLUG")
    story = open_bank().link(
        story_id, questions=question or [], markers=marker or [], unlink=remove
    )
    if as_json:
        emit_json(story)
    else:
        console().print(
            f"Story #{story.id} answers: {', '.join(story.questions) or '(no question)'}; "
            f"markers: {', '.join(story.markers) or '(none)'}"
        )


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Words to find in story text and tags.")],
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Full-text search over your stories."""
    stories = open_bank().search(query, limit=limit)
    if as_json:
        emit_json(stories)
        return
    if not stories:
        console().print(f"No story matches {escape(repr(query))}.")
        return
    for s in stories:
        console().print(f"#{s.id}  {escape(s.title)}  [dim]{s.when or ''}[/dim]")
