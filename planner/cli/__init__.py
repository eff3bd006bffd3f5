"""The ``planner`` command line: one sub-module per concept, registered here."""

from __future__ import annotations

import typer

from planner.cli._common import run_app

app = typer.Typer(
    name="planner",
    help="Optimisation-based dispatch planner for contact centres and control rooms.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich help labels every on/off flag "<bool>"
)


def main() -> None:
    """Console-script entry point: bad input exits 2 with a one-line message."""
    run_app(app)


from planner.cli import log as _log  # noqa: E402

app.add_typer(_log.app, name="log")

from planner.cli import network as _network  # noqa: E402

_network.register(app)


from planner.cli import solve as _solve  # noqa: E402

_solve.register(app)

from planner.cli import serve as _serve  # noqa: E402

_serve.register(app)

from planner.cli import events as _events  # noqa: E402

_events.register(app)

from planner.cli import codes as _codes  # noqa: E402

app.add_typer(_codes.app, name="codes")

from planner.cli import simulate as _simulate  # noqa: E402

_simulate.register(app)

from planner.cli import bound as _bound  # noqa: E402
from planner.cli import review as _review  # noqa: E402

_review.register(app)
_bound.register(app)

from planner.cli import scenario as _scenario  # noqa: E402

_scenario.register(app)
