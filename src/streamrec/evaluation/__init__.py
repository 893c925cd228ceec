"""Evaluation harness: streamrec and its peers, replayed over the same event log.

Protocols: prequential (test-then-train, the default: exactly what a real-time system faces),
temporal split, leave-last-out. Typical use::

    from streamrec.evaluation import EvaluationConfig, evaluate, to_report, markdown_table
    report = to_report(evaluate(EvaluationConfig(data="movielens-100k", protocol="prequential")))
    print(markdown_table(report))

Plots are in ``streamrec.evaluation.plots`` (imports matplotlib).
"""

from streamrec.evaluation.datasets import LoadedLog, load_log
from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.metrics import ListScores, score_list
from streamrec.evaluation.peers import PEERS, PeerContext, PeerSpec, Recommender, build_peer
from streamrec.evaluation.prequential import Outcome, replay, run_prequential
from streamrec.evaluation.queries import query_positions
from streamrec.evaluation.report import markdown_table, to_report, write_json
from streamrec.evaluation.runner import (
    ALL_MODELS,
    PROTOCOLS,
    Evaluation,
    EvaluationConfig,
    evaluate,
    make_plan,
)
from streamrec.evaluation.runs import ModelRun
from streamrec.evaluation.splits import Split, leave_last_out, run_split, temporal_split

__all__ = [
    "ALL_MODELS",
    "PEERS",
    "PROTOCOLS",
    "DenseEvents",
    "Evaluation",
    "EvaluationConfig",
    "ListScores",
    "LoadedLog",
    "ModelRun",
    "Outcome",
    "PeerContext",
    "PeerSpec",
    "Recommender",
    "Split",
    "build_peer",
    "evaluate",
    "leave_last_out",
    "load_log",
    "make_plan",
    "markdown_table",
    "query_positions",
    "replay",
    "run_prequential",
    "run_split",
    "score_list",
    "temporal_split",
    "to_report",
    "write_json",
]
