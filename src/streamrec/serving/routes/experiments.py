"""Experiments (A/B tests): list and read them with a read key; start and stop them with an
admin key, each start and stop logged (a control event) and audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from streamrec.experiments.definitions import Definition, Variant
from streamrec.serving.auth import AdminKey, require
from streamrec.serving.deps import EngineDep
from streamrec.serving.json_body import StrictJsonRoute
from streamrec.serving.schemas import ErrorOut, ExperimentIn, ExperimentOut, ExperimentsOut
from streamrec.trust.audit import AuditLog
from streamrec.trust.keys import Scope

router = APIRouter(prefix="/v1/experiments", tags=["experiments"], route_class=StrictJsonRoute,
                   responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}})
ExperimentName = Annotated[str, Path(min_length=1, max_length=64)]


def _audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


@router.get("", response_model=ExperimentsOut, dependencies=[require(Scope.READ)])
def list_experiments(engine: EngineDep) -> ExperimentsOut:
    """Every experiment, newest first, with each variant's lists shown, users, rates per
    feedback event type with confidence intervals, and a verdict in plain words."""
    return ExperimentsOut.model_validate({"experiments": engine.experiment_reports()})


@router.post("", response_model=ExperimentOut, status_code=201,
             responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut},
                        503: {"model": ErrorOut}})
def start_experiment(body: ExperimentIn, engine: EngineDep, caller: AdminKey,
                     request: Request) -> ExperimentOut:
    """Start an experiment: from the answer on, each user's lists are made in their variant
    (a hash of the experiment's name and the user picks it, weighted), and say so in
    `variant`. Logged, so a restart or replay assigns everyone the same; audited. One runs
    at a time (409 while another does); names are never reused (409)."""
    definition = Definition(body.name, tuple(Variant(v.name, v.weight, v.overrides)
                                             for v in body.variants),
                            body.goal, body.description)
    report = engine.start_experiment(definition)
    _audit(request).record(caller.id if caller else None, "experiment.start",
                           f"experiment:{body.name}",
                           {"offset": report["started_offset"], "goal": body.goal,
                            "variants": [v.model_dump() for v in body.variants]})
    return ExperimentOut.model_validate(report)


@router.get("/{name}", response_model=ExperimentOut, dependencies=[require(Scope.READ)],
            responses={404: {"model": ErrorOut}})
def read_experiment(name: ExperimentName, engine: EngineDep) -> ExperimentOut:
    """One experiment, as the list shows it."""
    return ExperimentOut.model_validate(engine.experiment_report(name))


@router.post("/{name}/stop", response_model=ExperimentOut,
             responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}})
def stop_experiment(name: ExperimentName, engine: EngineDep, caller: AdminKey,
                    request: Request) -> ExperimentOut:
    """Stop it: lists are made by the engine's settings again; its results stay readable.
    Logged and audited; stopping a stopped experiment changes nothing."""
    report, was_running = engine.stop_experiment(name)
    if was_running:
        _audit(request).record(caller.id if caller else None, "experiment.stop",
                               f"experiment:{name}", {"offset": report["stopped_offset"]})
    return ExperimentOut.model_validate(report)
