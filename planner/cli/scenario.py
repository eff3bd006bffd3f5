"""``planner scenario import-jemss``: a published JEMSS model as an editable scenario."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from planner.cli._common import fail
from planner.errors import PlannerError

app = typer.Typer(help="Scenario files: import published models.", no_args_is_help=True)


@app.command("import-jemss")
def import_jemss(
    folder: Path = typer.Argument(..., help="A JEMSS model folder (published or flat layout)."),
    out: Path = typer.Option(..., "--out", "-o", help="Scenario YAML to write."),
    region: str = typer.Option("manhattan", "--region", help="Region the model runs on."),
    name: str | None = typer.Option(None, "--name", help="Scenario name (default: file stem)."),
    service_area: Path | None = typer.Option(
        None, "--service-area", help="GeoJSON polygon that clips demand (path kept as given)."
    ),
) -> None:
    """Write SCENARIO.yaml (+ SCENARIO-codes.yaml) from a JEMSS folder, then validate it."""
    from planner.sim.jemss import read_jemss, scenario_documents
    from planner.sim.scenario import load_scenario
    from planner.sim.world import prepare_world

    try:
        model = read_jemss(folder)
        codes_path = out.with_name(f"{out.stem}-codes.yaml")
        scenario, table = scenario_documents(
            model, name=name or out.stem, region=region, codes_file=codes_path.name
        )
        if service_area is not None:
            scenario["service_area"] = {"file": str(service_area.resolve())}
        out.parent.mkdir(parents=True, exist_ok=True)
        header = f"# Imported from {folder} by `planner scenario import-jemss`; edit freely.\n"
        codes_path.write_text(header + yaml.safe_dump(table, sort_keys=False, allow_unicode=True))
        out.write_text(header + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True))
        prepare_world(load_scenario(out))  # every station and hospital must snap to the region
    except PlannerError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"-o: cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(
        f"{out}: {len(model.stations)} stations, {len(model.ambulances)} ambulances, "
        f"{len(model.hospitals)} hospitals; tables: {', '.join(sorted(model.files))}"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scenario")
