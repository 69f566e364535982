"""``documind validators``: register validators, list them with their load, stats."""

from __future__ import annotations

import click

from documind.cli.common import CliError, open_runtime, print_json


def _registry(rt):  # noqa: ANN001, ANN202
    from documind.validation.validators import Validators

    return Validators(rt.sessions, rt.settings.validation_assign_timeout_s)


@click.group()
def validators() -> None:
    """The people who validate: name, languages, capacity; load and reliability."""


@validators.command("add")
@click.argument("name")
@click.option("--languages", default="", help="comma-separated codes (en,de); empty: any language")
@click.option("--capacity", type=click.IntRange(min=1), default=10, show_default=True, help="tasks held at once")
@click.option("--json", "as_json", is_flag=True)
def add(name: str, languages: str, capacity: int, as_json: bool) -> None:
    from documind.validation.errors import ValidationRefused
    from documind.validation.validators import parse_languages

    with open_runtime(with_workers=False) as rt:
        try:
            data = _registry(rt).add(name, parse_languages(languages), capacity)
        except ValidationRefused as exc:
            raise CliError(str(exc)) from None
    print_json(data) if as_json else click.echo(f"validator {name} added")


def _table(rows: list[dict]) -> None:
    for r in rows:
        rel = "-" if r["reliability"] is None else f"{r['reliability']:.2f}"
        extra = f"  answered {r['answered']}" if "answered" in r else ""
        click.echo(f"{r['name']:<20} {','.join(r['languages']) or 'any':<12} load {r['load']}/{r['capacity']}"
                   f"  reliability {rel}{extra}")


@validators.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    with open_runtime(with_workers=False) as rt:
        rows = _registry(rt).list()
    print_json(rows) if as_json else _table(rows)


@validators.command("stats")
@click.option("--json", "as_json", is_flag=True)
def stats(as_json: bool) -> None:
    """Answers by verdict, agreement with decisions (reliability), load."""
    with open_runtime(with_workers=False) as rt:
        rows = _registry(rt).stats()
    print_json(rows) if as_json else _table(rows)
