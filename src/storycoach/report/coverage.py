"""The coverage map as Markdown and as one self-contained HTML page.

Both read a `CoverageReport` and nothing else, so their statuses, stories, markers and offline
suggestions are those of `coverage --json`. They leave out the model's proposals of
`coverage --llm` (`llm_suggestions`): a report is a record of the bank, not of one model's
opinion; `--json` carries them.

The HTML page is a `string.Template` (no template engine) with inline CSS, no scripts and no
external assets, so it can be mailed, archived or printed as is. Every piece of user text
(story titles, question text, tags) goes through `html.escape`, in Markdown too, since Markdown
viewers render raw HTML.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from storycoach.coverage import (
    BANK_TARGET,
    FRESH_MONTHS,
    OVERUSE_LIMIT,
    CoverageReport,
    QuestionCoverage,
)

_TEMPLATE = Path(__file__).with_name("coverage.html")
_LETTER = {"gap": "G", "thin": "T", "covered": "C"}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _md(text: object) -> str:
    """Markdown-safe inline text: HTML escaped, table pipes escaped, one line."""
    return html.escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids) or "none"


def _filters(report: CoverageReport) -> str:
    given = [f"{k} {v}" for k, v in report.filters.items() if v]
    return f" for {', '.join(given)}" if given else ""


def _bank_line(report: CoverageReport) -> str:
    short = BANK_TARGET - report.active_stories
    hint = f": add {short} more" if short > 0 else ""
    return f"{report.active_stories} active stories (the guide's target is {BANK_TARGET}+{hint})"


def _link_hint(row: QuestionCoverage) -> str:
    if row.suggestions:
        return f"storycoach story link {row.suggestions[0].story_id} --question {row.id}"
    return f"storycoach story add --question {row.id}"


# -- Markdown -----------------------------------------------------------------------------------


def to_markdown(report: CoverageReport) -> str:
    """A Markdown report: summary, gaps first with what the round probes, markers, extras."""
    out = [
        "# Story coverage",
        "",
        f"_Computed {report.today.isoformat()}{_md(_filters(report))}._",
        "",
        f"- **Bank:** {_bank_line(report)}, {report.retired_stories} retired",
        f"- **Questions:** {report.count('gap')} gap, {report.count('thin')} thin, "
        f"{report.count('covered')} covered (of {len(report.questions)})",
        "",
        "## Gaps and thin questions",
        "",
    ]
    weak = report.weak()
    if not weak:
        out += ["Every question has two fresh, passing stories.", ""]
    for row in weak:
        out += [f"### {row.status}: `{row.id}`", "", f"> {_md(row.question.text)}", ""]
        label, probing = row.probing
        if probing:
            out.append(f"- **{label}:** {_md(probing)}")
        out.append(f"- **Why {row.status}:** {_md('; '.join(row.reasons))}")
        if row.stories:
            out.append(f"- **Linked:** {_ids(row.stories)}")
        for s in row.suggestions:
            out.append(f"- **Try** #{s.story_id} {_md(s.title)} ({_md(s.reason)})")
        out += [f"- Next: `{_link_hint(row)}`", ""]
    out += [
        "## All questions",
        "",
        "| Status | Question | Markers | Stories |",
        "|---|---|---|---|",
    ]
    for row in report.questions:
        out.append(
            f"| {row.status} | `{row.id}` {_md(row.question.text)} | "
            f"{_md(', '.join(row.question.markers))} | {_ids(row.stories)} |"
        )
    out += [
        "",
        "## Culture markers",
        "",
        "| Marker | Stories | Questions covered |",
        "|---|---|---|",
    ]
    for m in report.markers:
        out.append(
            f"| {_md(m.marker.name)} (`{m.marker.slug}`) | {len(m.stories)} | "
            f"{len(m.questions)} of {len(m.total)} |"
        )
    if report.overused:
        out += ["", f"## Overused stories (linked to more than {OVERUSE_LIMIT} questions)", ""]
        for o in report.overused:
            out.append(
                f"- #{o.story_id} {_md(o.title)}: {len(o.questions)} questions "
                f"({_md(', '.join(o.questions))})"
            )
    if report.undated:
        out += ["", "## Undated stories", ""]
        out.append(
            f"Freshness ({FRESH_MONTHS} months) cannot be checked without a date; "
            "add one with `storycoach story edit ID --when 2024-03`."
        )
        out.append("")
        for i in report.undated:
            out.append(f"- #{i} {_md(report.titles.get(i, ''))}")
    return "\n".join(out).rstrip() + "\n"


# -- HTML ---------------------------------------------------------------------------------------


def to_html(report: CoverageReport) -> str:
    """One self-contained, printable HTML page; all user text escaped."""
    template = Template(_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(
        today=_e(report.today.isoformat()),
        filters=_e(_filters(report)),
        cards=_cards(report),
        heatmap=_heatmap(report),
        gaps=_gaps(report),
        markers=_markers(report),
        questions=_questions(report),
        extras=_extras(report),
    )


def _cards(report: CoverageReport) -> str:
    short = " short" if report.active_stories < BANK_TARGET else ""
    cards = [
        f'<div class="card{short}"><b>{report.active_stories}</b>active stories '
        f"(target {BANK_TARGET}+)</div>"
    ]
    for status in ("gap", "thin", "covered"):
        cards.append(f'<div class="card {status}"><b>{report.count(status)}</b>{status}</div>')
    return "".join(cards)


def _heatmap(report: CoverageReport) -> str:
    if not report.questions:
        return "<p>No question matches these filters.</p>"
    markers = [m.marker for m in report.markers]
    head = "".join(f'<th class="m" title="{_e(m.name)}">{_e(m.name)}</th>' for m in markers)
    rows = []
    for row in report.questions:
        cells = []
        for m in markers:
            if m.slug in row.question.markers:
                cells.append(
                    f'<td class="c {row.status}" title="{_e(m.name)}: {row.status}">'
                    f"{_LETTER[row.status]}{len(row.counting) or ''}</td>"
                )
            else:
                cells.append('<td class="c none"></td>')
        rows.append(
            f'<tr class="{row.status}"><td class="q" title="{_e(row.question.text)}">'
            f"<code>{_e(row.id)}</code></td>{''.join(cells)}</tr>"
        )
    return (
        '<table class="heat"><thead><tr><th class="qh">question</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _gaps(report: CoverageReport) -> str:
    weak = report.weak()
    if not weak:
        return "<p>Every question has two fresh, passing stories.</p>"
    parts = []
    for row in weak:
        items = [
            f'<article class="{row.status}">',
            f'<p><span class="badge {row.status}">{row.status}</span> '
            f"<code>{_e(row.id)}</code> {_e(row.question.text)}</p>",
        ]
        label, probing = row.probing
        if probing:
            items.append(f"<p><b>{_e(label)}:</b> {_e(probing)}</p>")
        items.append(f'<p class="muted">{_e("; ".join(row.reasons))}</p>')
        if row.stories:
            items.append(f"<p>Linked: {_e(_ids(row.stories))}</p>")
        if row.suggestions:
            items.append("<p><b>Stories that may answer it:</b></p><ul>")
            items += [
                f"<li>#{s.story_id} {_e(s.title)} <span class='muted'>"
                f"(score {s.score:.1f}; {_e(s.reason)})</span></li>"
                for s in row.suggestions
            ]
            items.append("</ul>")
        items.append(f"<p class='muted'>Next: <code>{_e(_link_hint(row))}</code></p></article>")
        parts.append("".join(items))
    return "\n".join(parts)


def _markers(report: CoverageReport) -> str:
    rows = [
        f"<tr><td>{_e(m.marker.name)} <code>{_e(m.marker.slug)}</code></td>"
        f"<td>{len(m.stories)}</td><td>{len(m.questions)} of {len(m.total)}</td>"
        f"<td>{_e(', '.join(m.gaps))}</td></tr>"
        for m in report.markers
    ]
    return (
        "<table><thead><tr><th>marker</th><th>stories</th><th>questions covered</th>"
        f"<th>not yet covered</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _questions(report: CoverageReport) -> str:
    rows = [
        f'<tr><td><span class="badge {row.status}">{row.status}</span></td>'
        f"<td><code>{_e(row.id)}</code><br>{_e(row.question.text)}</td>"
        f"<td>{_e(', '.join(row.question.markers))}</td><td>{_e(_ids(row.stories))}</td></tr>"
        for row in report.questions
    ]
    return (
        "<table><thead><tr><th>status</th><th>question</th><th>markers</th><th>stories</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _extras(report: CoverageReport) -> str:
    parts = []
    if report.overused:
        parts.append(
            f"<h2>Overused stories (linked to more than {OVERUSE_LIMIT} questions)</h2><ul>"
        )
        parts += [
            f"<li>#{o.story_id} {_e(o.title)}: {len(o.questions)} questions "
            f"<span class='muted'>({_e(', '.join(o.questions))})</span></li>"
            for o in report.overused
        ]
        parts.append("</ul>")
    if report.undated:
        parts.append(
            f"<h2>Undated stories</h2><p class='muted'>Freshness ({FRESH_MONTHS} months) cannot "
            "be checked without a date.</p><ul>"
        )
        parts += [f"<li>#{i} {_e(report.titles.get(i, ''))}</li>" for i in report.undated]
        parts.append("</ul>")
    return "\n".join(parts)
