"""The one way commands print tables: ids stay whole at any width, prose wraps around them.

An id is something the user types next (a question id, a marker slug, a rubric id, a story
id, a date), so a table must never cut one to `production-outage…`. Left to itself, rich
shrinks every column when a table does not fit, ids included. Here each column says what it
holds, and the widths are worked out before rich sees the table:

- `ID`: one id per cell: never wrapped, never cut (the column is as wide as its widest id).
- `IDS`: ids separated by spaces (", " or " "): the cell wraps between ids, never inside one.
- `TEXT`: prose: wraps, and a word longer than the room left is folded onto the next line.

Id columns get their full width first; the room left is shared among the other columns in
proportion to how much each would like, so the question text wraps to a few words a line and
every id is still whole. When even that does not fit (long ids in a narrow terminal), each row
is printed as a block instead: its ids on the first line, then one `header  value` line per
other column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

Kind = Literal["id", "ids", "text"]
ID: Kind = "id"
IDS: Kind = "ids"
TEXT: Kind = "text"

_GAP = 2  # spaces between columns
_MIN_TEXT = 12  # a prose column narrower than this is unreadable


class _NoRoom(Exception):
    pass


@dataclass(frozen=True)
class Col:
    header: str
    kind: Kind = TEXT
    justify: Literal["left", "right"] = "left"


def column_widths(
    columns: Sequence[Col], natural: Sequence[int], floors: Sequence[int], width: int
) -> list[int] | None:
    """Widths that fit `width`, or None when the natural widths already fit.

    Raises `_NoRoom` when the ids and the narrowest readable prose cannot share a line.

    Id columns keep their natural width; every other column gets at least its floor (its
    longest id for `IDS`) and an equal share of the rest, up to what it needs.
    """
    room = width - _GAP * (len(columns) - 1)
    if sum(natural) <= room:
        return None
    widths = [natural[i] if c.kind == ID else floors[i] for i, c in enumerate(columns)]
    spare = room - sum(widths)
    if spare < 0:
        raise _NoRoom
    # Water-filling: equal shares of the spare room, a column never wider than it needs.
    hungry = [i for i, c in enumerate(columns) if c.kind != ID and widths[i] < natural[i]]
    while spare > 0 and hungry:
        share = max(1, spare // len(hungry))
        for i in hungry:
            grant = min(share, natural[i] - widths[i], spare)
            widths[i] += grant
            spare -= grant
        hungry = [i for i in hungry if widths[i] < natural[i]]
    return widths


def print_table(
    out: Console,
    columns: Sequence[Col],
    rows: Iterable[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    """Print `rows` (rich markup strings, user text already escaped) under `columns`."""
    from rich.table import Table
    from rich.text import Text

    cells = [[Text.from_markup(cell, overflow="fold") for cell in row] for row in rows]
    natural, floors = [], []
    for i, c in enumerate(columns):
        lines = [len(c.header)]
        words = [len(c.header) if c.kind != TEXT else _MIN_TEXT]
        for row in cells:
            lines += [len(line) for line in row[i].plain.splitlines() or [""]]
            words += [len(w) for w in row[i].plain.split()]
        natural.append(max(lines))
        floors.append(min(max(words) if c.kind == IDS else _MIN_TEXT, natural[-1]))
    try:
        widths = column_widths(columns, natural, floors, out.width)
    except _NoRoom:
        _print_blocks(out, columns, cells, title)
        return

    table = Table(box=None, pad_edge=False, padding=(0, _GAP, 0, 0), title=title)
    for i, c in enumerate(columns):
        table.add_column(
            c.header,
            justify=c.justify,
            no_wrap=c.kind == ID,
            overflow="fold",
            width=widths[i] if widths else None,
        )
    for row in cells:
        table.add_row(*row)
    out.print(table)


def _print_blocks(
    out: Console, columns: Sequence[Col], cells: list[list[Text]], title: str | None
) -> None:
    """One block per row for a terminal too narrow for the table: ids first, then the rest."""
    from rich.table import Table
    from rich.text import Text

    if title:
        out.print(title)
    first = [i for i, c in enumerate(columns) if c.kind == ID][:1] or [0]
    rest = [i for i in range(len(columns)) if i not in first]
    key_width = max(len(columns[i].header) for i in rest) if rest else 0
    for n, row in enumerate(cells):
        if n:
            out.print()
        head = row[first[0]]
        if head.plain.isdigit():  # a bare "7" on its own line reads as nothing: "#7"
            head = Text.assemble("#", head)
        out.print(Text.assemble(head, style="bold"), no_wrap=True, overflow="ignore")
        grid = Table.grid(padding=(0, _GAP, 0, 0), pad_edge=False)
        grid.add_column(width=key_width + 2, no_wrap=True)
        grid.add_column(overflow="fold")
        for i in rest:
            if row[i].plain:
                grid.add_row(Text("  " + columns[i].header, style="dim"), row[i])
        out.print(grid)
