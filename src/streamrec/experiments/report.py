"""What an experiment shows: per variant, the lists shown and to how many users, the rate of
lists with at least one event of each type (the goal's is ``ctr``), each with a Wilson
interval; every other variant against the first (the control), with Newcombe's interval of
the difference; and a verdict in plain words.

With more than two variants each is compared with the control at a confidence raised by
Bonferroni's correction (0.95 over two comparisons: 0.975 each), so that the chance that any
verdict names a winner by luck stays 5%; the verdict says the level it used.

>>> verdict_of("click", [("A", 1000, 100), ("B", 1000, 150)], 0.95)
('B beats A on clicks by +5.0 pts (95% CI +2.1..+7.9)', 'B')
>>> verdict_of("click", [("A", 100, 10), ("B", 100, 11)], 0.95)[0]
'no clear difference yet (B - A: +1.0 pts, 95% CI -7.8..+9.8); need ~24,000 more impressions'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamrec.experiments.assignment import RULE
from streamrec.experiments.registry import Experiment
from streamrec.experiments.statistics import difference, lists_needed, wilson

CONFIDENCE = 0.95
Counts = tuple[str, int, int]  # variant, lists shown, lists with the goal's event


def report_of(experiment: Experiment, exposures: Mapping[str, tuple[int, int]],
              confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The experiment as ``GET /v1/experiments`` shows it (``serving/schemas.py``)."""
    definition = experiment.definition
    goal = definition.goal
    variants: list[dict[str, Any]] = []
    counts: list[Counts] = []
    for variant in definition.variants:
        users, lists = exposures.get(variant.name, (0, 0))
        outcomes = experiment.outcomes.get(variant.name, {})
        events, clicks = {}, 0
        for event_type, (with_one, total) in sorted(outcomes.items()):
            with_one = min(with_one, lists)  # exposures are written up to a second late
            low, high = wilson(with_one, lists, confidence)
            events[event_type] = {"lists": with_one, "events": total,
                                  "rate": _rate(with_one, lists), "ci_low": low, "ci_high": high}
            clicks = with_one if event_type == goal else clicks
        low, high = wilson(clicks, lists, confidence)
        variants.append({"name": variant.name, "weight": variant.weight,
                         "overrides": dict(variant.overrides), "users": users,
                         "impressions": lists, "clicks": clicks, "ctr": _rate(clicks, lists),
                         "ci_low": low, "ci_high": high, "events": events})
        counts.append((variant.name, lists, clicks))
    level = _per_comparison(confidence, len(counts) - 1)
    control = counts[0]
    for entry, count in zip(variants[1:], counts[1:], strict=True):
        low, high = difference(count[2], count[1], control[2], control[1], level)
        entry["vs_control"] = {"control": control[0],
                               "difference": _rate(count[2], count[1]) - _rate(control[2],
                                                                               control[1]),
                               "ci_low": low, "ci_high": high, "confidence": level}
    verdict, winner = verdict_of(goal, counts, confidence)
    return {"name": definition.name, "status": "running" if experiment.is_running else "stopped",
            "description": definition.description, "goal": goal, "assignment": RULE,
            "started_at": experiment.started_at, "started_offset": experiment.started_offset,
            "stopped_at": experiment.stopped_at, "stopped_offset": experiment.stopped_offset,
            "confidence": confidence, "variants": variants, "verdict": verdict,
            "winner": winner, "problem": experiment.problem}


def verdict_of(goal: str, counts: Sequence[Counts],
               confidence: float = CONFIDENCE) -> tuple[str, str | None]:
    """Plain words about every variant against the first, and the winner (a variant that
    beats the control, the one with the largest lift) or None."""
    control = counts[0]
    if all(lists == 0 for _, lists, _ in counts):
        return "no impressions yet", None
    level = _per_comparison(confidence, len(counts) - 1)
    label = f"{level * 100:.4g}% CI"
    said, best, best_lift = [], None, 0.0
    for name, lists, hits in counts[1:]:
        lift = _rate(hits, lists) - _rate(control[2], control[1])
        low, high = difference(hits, lists, control[2], control[1], level)
        if low > 0:
            said.append(f"{name} beats {control[0]} on {goal}s by {_pts(lift)} ({label} "
                        f"{_pts(low, False)}..{_pts(high, False)})")
            if lift > best_lift:
                best, best_lift = name, lift
        elif high < 0:
            said.append(f"{control[0]} beats {name} on {goal}s by {_pts(-lift)} ({label} "
                        f"{_pts(-high, False)}..{_pts(-low, False)})")
        else:
            said.append(f"no clear difference yet ({name} - {control[0]}: {_pts(lift)}, "
                        f"{label} {_pts(low, False)}..{_pts(high, False)}); "
                        f"{_more(control, (name, lists, hits), level, goal)}")
    if best is None and all(s.startswith(f"{control[0]} beats") for s in said):
        best = control[0]
    return "; ".join(said), best


def _more(control: Counts, other: Counts, level: float, goal: str) -> str:
    needed = lists_needed(_rate(control[2], control[1]), _rate(other[2], other[1]), level)
    if needed is None:
        return f"no {goal}s yet"
    more = max(0, needed - control[1]) + max(0, needed - other[1])
    return f"need ~{_round(more):,} more impressions"


def _round(n: int) -> int:
    """Two significant figures: the estimate is no more precise."""
    if n < 100:
        return n
    scale = int(10 ** (len(str(n)) - 2))
    return round(n / scale) * scale


def _per_comparison(confidence: float, comparisons: int) -> float:
    return 1.0 - (1.0 - confidence) / max(1, comparisons)


def _rate(hits: int, lists: int) -> float:
    return hits / lists if lists else 0.0


def _pts(difference: float, unit: bool = True) -> str:
    return f"{difference * 100:+.1f}" + (" pts" if unit else "")
