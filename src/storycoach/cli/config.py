"""`storycoach config`: the effective model settings and where each one came from.

The first thing to run when the model pass does not do what you expect: it shows whether the
pass is enabled, which server and model it would use, and whether a value came from the
environment, the config file or a default. The key is only ever shown masked (`sk-...abcd`).
Imports nothing heavy at module level (see `cli.common`).
"""

from __future__ import annotations

from storycoach.cli.common import JsonOption


def config(as_json: JsonOption = False) -> None:
    """Show the model settings (env, then config file, then defaults), key masked."""
    from storycoach.settings import ENV_VARS, load_settings, safe_url

    settings = load_settings()
    rows = settings.describe()
    path = settings.config_path
    if as_json:
        from storycoach.cli.common import emit_json

        emit_json(
            {
                "enabled": settings.enabled,
                "endpoint": safe_url(settings.endpoint),
                "config_file": str(path) if path else None,
                "config_file_exists": bool(path and path.is_file()),
                "settings": {
                    row["name"]: {"value": row["value"], "source": row["source"]} for row in rows
                },
            }
        )
        return

    from rich.table import Table

    from storycoach.cli.common import console, escape

    table = Table(box=None, pad_edge=False)
    table.add_column("setting")
    table.add_column("value")
    table.add_column("source")
    for row in rows:
        value = row["value"]
        table.add_row(
            row["name"], "(not set)" if value is None else escape(str(value)), row["source"]
        )
    out = console()
    out.print(table)
    exists = "" if path and path.is_file() else " (not created yet)"
    out.print(f"\nconfig file: {escape(str(path))}{exists}")
    out.print("keys: " + ", ".join(f"{name} = ..." for name in ENV_VARS) + "  (environment wins)")
    if settings.enabled:
        out.print(f"model pass: on ({escape(settings.model)} at {escape(str(settings.host))})")
    else:
        out.print(f"model pass: off. {settings.hint}")
