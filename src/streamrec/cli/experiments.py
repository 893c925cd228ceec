"""streamrec experiments: list, show, create and stop A/B tests, on a data dir (with no
server running on it) or through a running server's API (``--url``, with an admin key to
create or stop). Either way a start or stop is a control event in the log and a row in the
audit log (docs/experiments.md)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from streamrec.cli.options import DataDir, build_settings
from streamrec.engine.engine import Engine
from streamrec.errors import InvalidInput, NotFound, Unavailable
from streamrec.experiments.definitions import Definition, Variant
from streamrec.storage.dir_lock import hold_data_dir
from streamrec.trust.audit import AuditLog

app = typer.Typer(no_args_is_help=True, help="A/B tests of serving settings: list, show, "
                  "create and stop them (docs/experiments.md).")

Url = Annotated[str | None, typer.Option(
    "--url", help="A running server (e.g. http://127.0.0.1:8000) instead of --data-dir.",
    show_default=False)]
ApiKey = Annotated[str | None, typer.Option(
    "--api-key", envvar="STREAMREC_API_KEY", help="With --url: an API key (read to list and "
    "show, admin to create and stop).", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead.")]
Name = Annotated[str, typer.Argument(help="The experiment's name.")]


class Api:
    """The few calls of ``/v1/experiments`` over HTTP (the standard library's client)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"content-type": "application/json"}
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            problem = _error_body(error)
            if error.code == 404:
                raise NotFound(problem.get("message", "not found")) from None
            if error.code < 500:
                raise InvalidInput(problem.get("field"),
                                   problem.get("message", f"HTTP {error.code}")) from None
            raise Unavailable(f"{self.url} answered {error.code}: "
                              f"{problem.get('message', '')}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Unavailable(f"cannot reach {self.url}: {reason}") from None


def _error_body(error: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        found = json.load(error).get("error", {})
        return found if isinstance(found, dict) else {}
    except ValueError:
        return {}


@contextmanager
def _engine(data_dir: Any) -> Iterator[tuple[Engine, AuditLog]]:
    """The data dir's engine without its learner (this process learns what it logs), held
    for this process so no server writes it meanwhile."""
    settings = build_settings(data_dir)
    hold_data_dir(settings.data_dir)
    engine = Engine.open(settings, start_learner=False)
    audit = AuditLog(settings.data_dir / "audit.db", settings.trust.pseudonym_secret)
    try:
        yield engine, audit
    finally:
        engine.close()
        audit.close()


def _run(url: str | None, api_key: str | None, data_dir: Any,
         over_http: Callable[[Api], Any], on_disk: Callable[[Engine, AuditLog], Any]) -> Any:
    if url is not None and data_dir is not None:
        raise InvalidInput("url", "give --url or --data-dir, not both")
    if url is not None:
        return over_http(Api(url, api_key))
    with _engine(data_dir) as (engine, audit):
        return on_disk(engine, audit)


@app.command("list")
def list_experiments(data_dir: DataDir = None, url: Url = None, api_key: ApiKey = None,
                     as_json: AsJson = False) -> None:
    """Every experiment, newest first: status, lists shown and rate per variant, verdict."""
    reports = _run(url, api_key, data_dir, lambda api: api.call("GET", "/v1/experiments")[
        "experiments"], lambda engine, _: engine.experiment_reports())
    if as_json:
        typer.echo(json.dumps({"experiments": reports}, indent=2))
        return
    if not reports:
        typer.echo("no experiments yet ('streamrec experiments create --help')")
    for report in reports:
        _print_report(report, detailed=False)


@app.command()
def show(name: Name, data_dir: DataDir = None, url: Url = None, api_key: ApiKey = None,
         as_json: AsJson = False) -> None:
    """One experiment: each variant's overrides, users, lists shown, rates per event type
    with 95% intervals, the difference to the control, and the verdict."""
    report = _run(url, api_key, data_dir, lambda api: api.call("GET", f"/v1/experiments/{name}"),
                  lambda engine, _: engine.experiment_report(name))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report, detailed=True)


@app.command()
def create(
    name: Name,
    variant: Annotated[list[str], typer.Option(
        "--variant", help="NAME or NAME=WEIGHT (default weight 1), repeated: two or more; the "
        "first is the control.")],
    override: Annotated[list[str] | None, typer.Option(
        "--override", help="VARIANT:SETTING=VALUE, repeatable, e.g. "
        "'B:models.hybrid.hedge.enabled=false' (VALUE is read as JSON when it parses, else "
        "as text).")] = None,
    goal: Annotated[str, typer.Option(help="The event type the verdict compares.")] = "click",
    description: Annotated[str, typer.Option(help="What it tests, for people.")] = "",
    data_dir: DataDir = None, url: Url = None, api_key: ApiKey = None,
) -> None:
    """Start an experiment: from now on each user's lists are made in their variant."""
    body = _body(name, variant, override or [], goal, description)
    definition = Definition(name, tuple(Variant(v["name"], v["weight"], v["overrides"])
                                        for v in body["variants"]), goal, description)

    def on_disk(engine: Engine, audit: AuditLog) -> Any:
        report = engine.start_experiment(definition)
        audit.record(None, "experiment.start", f"experiment:{name}",
                     {"offset": report["started_offset"], "goal": goal,
                      "variants": body["variants"]})
        return report

    report = _run(url, api_key, data_dir, lambda api: api.call("POST", "/v1/experiments", body),
                  on_disk)
    typer.echo(f"started {name} at offset {report['started_offset']}: "
               + ", ".join(f"{v['name']} (weight {v['weight']:g})" for v in report["variants"]))


@app.command()
def stop(name: Name, data_dir: DataDir = None, url: Url = None,
         api_key: ApiKey = None) -> None:
    """Stop an experiment: lists are made by the engine's settings again; results stay."""
    def on_disk(engine: Engine, audit: AuditLog) -> Any:
        report, was_running = engine.stop_experiment(name)
        if was_running:
            audit.record(None, "experiment.stop", f"experiment:{name}",
                         {"offset": report["stopped_offset"]})
        return report

    report = _run(url, api_key, data_dir,
                  lambda api: api.call("POST", f"/v1/experiments/{name}/stop"), on_disk)
    typer.echo(f"stopped {name}; {report['verdict']}")


def _body(name: str, variants: list[str], overrides: list[str], goal: str,
          description: str) -> dict[str, Any]:
    """The API's request body from the options, naming the option that is wrong."""
    found: dict[str, dict[str, Any]] = {}
    for text in variants:
        variant, _, weight = text.partition("=")
        try:
            found[variant] = {"name": variant, "weight": float(weight) if weight else 1.0,
                              "overrides": {}}
        except ValueError:
            raise InvalidInput("variant", f"--variant {text!r}: expected NAME or NAME=WEIGHT "
                               "with a number") from None
    for text in overrides:
        variant, _, setting = text.partition(":")
        key, equals, value = setting.partition("=")
        if not equals or not key or variant not in found:
            raise InvalidInput("override", f"--override {text!r}: expected VARIANT:SETTING="
                               f"VALUE naming one of the variants ({', '.join(found)})")
        try:
            found[variant]["overrides"][key] = json.loads(value)
        except ValueError:
            found[variant]["overrides"][key] = value
    return {"name": name, "variants": list(found.values()), "goal": goal,
            "description": description}


def _print_report(report: dict[str, Any], detailed: bool) -> None:
    typer.echo(f"{report['name']}  [{report['status']}]  goal: {report['goal']}"
               + (f"  ({report['description']})" if report["description"] else ""))
    for variant in report["variants"]:
        line = (f"  {variant['name']:<16} {variant['users']:>8,} users "
                f"{variant['impressions']:>9,} lists  ctr {variant['ctr'] * 100:5.1f}% "
                f"({variant['ci_low'] * 100:.1f}..{variant['ci_high'] * 100:.1f})")
        typer.echo(line)
        if detailed:
            if variant["overrides"]:
                typer.echo(f"    overrides: {json.dumps(variant['overrides'])}")
            for event_type, rate in variant["events"].items():
                typer.echo(f"    {event_type:<12} {rate['lists']:>8,} lists "
                           f"{rate['events']:>8,} events  {rate['rate'] * 100:5.1f}% "
                           f"({rate['ci_low'] * 100:.1f}..{rate['ci_high'] * 100:.1f})")
    if report.get("problem"):
        typer.echo(f"  problem: {report['problem']}")
    typer.echo(f"  verdict: {report['verdict']}")
