"""Request and response bodies of the HTTP API (pydantic lives only at this edge)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from streamrec.events.validation import MAX_ID_LENGTH, id_problem


def _valid_id(value: str) -> str:
    """The one id rule (events/validation.py), for bodies and paths alike."""
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(f"an id {problem}")
    return value


# strict: a string is not silently taken for a number, nor a number for an id
Id = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_ID_LENGTH),
               AfterValidator(_valid_id)]
# an id in a URL path: routes take it with the ``path`` converter (``{user_id:path}``), so an
# id holding '/' (sent as %2F) reaches them too
PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_valid_id)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class EventIn(BaseModel):
    # exactly one of user_id and session_id, said in the schema too
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["user_id"]}, {"required": ["session_id"]}]})

    event_id: Id | None = None
    user_id: Id | None = Field(
        default=None, description="Who did it. Exactly one of user_id and session_id.")
    session_id: Id | None = Field(
        default=None, description="An anonymous visitor's session, instead of user_id: it gets "
        "recommendations from its first event (GET /v1/sessions/{session_id}/recommendations); "
        "when the visitor logs in, POST /v1/sessions/{session_id}/merge makes it theirs.")
    item_id: Id
    type: Annotated[str, Field(strict=True, min_length=1, max_length=64)]
    value: Number | None = None
    timestamp: Number | Annotated[str, Field(strict=True, max_length=64)] | None = Field(
        default=None, description="Unix seconds or ISO 8601 with a time zone; default: now."
    )
    context: dict[str, Any] | None = Field(
        default=None, description="Free-form; recommendation_id links an event to what was shown."
    )


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id = Field(description="The user the session turned out to be.")


class MergedOut(BaseModel):
    merged: bool = Field(description="False: the session already was this user's; nothing "
                         "was logged.")
    last_offset: int = Field(description="The log's newest offset once the merge is learned.")


class AppendedOut(BaseModel):
    accepted: int
    duplicates: int
    last_offset: int
    token: str = Field(description="Send it as the X-Consistency-Token header (or the "
                       "consistency_token query parameter) with a read, to any replica: the "
                       "read sees these events, or answers 503 with Retry-After.")


class ItemFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Any] | None = None
    text: Annotated[str, Field(strict=True, max_length=100_000)] | None = None
    available: Annotated[bool, Field(strict=True)] | None = None


class ItemIn(ItemFields):
    item_id: Id


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemIn] = Field(min_length=1)


class ItemOut(BaseModel):
    item_id: str
    attributes: dict[str, Any]
    text: str
    available: bool


class UpsertedOut(BaseModel):
    upserted: int


class RecommendedItem(BaseModel):
    item_id: str
    score: float = Field(description="Higher is better; never rises down the list. Ranked "
                         "items: the ranker's probability; popular items: their decayed "
                         "popularity (scaled below the ranked items when they follow them).")
    reasons: list[str]
    title: str | None = Field(default=None, description="With fields=title: the item's "
                              "title attribute (null when it has none).")
    attributes: dict[str, Any] | None = Field(default=None,
                                              description="With fields=attributes.")
    text: str | None = Field(default=None, description="With fields=text.")
    available: bool | None = Field(default=None, description="With fields=available.")


class RecommendationsOut(BaseModel):
    items: list[RecommendedItem]
    recommendation_id: str = Field(description="Name it in after= for the next page, or in "
                                   "an event's context.recommendation_id as feedback.")
    warnings: list[str] = Field(default_factory=list, description="What the caller should "
                                "know about the options, e.g. a filter on an attribute no "
                                "item has (so nothing matches).")
    experiment: str | None = Field(default=None, description="The experiment running when "
                                   "the list was made (absent: none ran).")
    variant: str | None = Field(default=None, description="The user's variant of it, whose "
                                "settings made the list; feedback naming recommendation_id "
                                "counts for it.")


class SimilarOut(BaseModel):
    items: list[RecommendedItem]


class StatsOut(BaseModel):
    """What the engine holds and how far it has learned (offsets count log entries)."""

    model_config = ConfigDict(extra="allow")

    events: int = Field(description="Clients' events in the log (durable, learned or "
                        "not yet); not the engine's own log entries (session merges, refit "
                        "markers), which log_offset counts too.")
    users: int = Field(description="Users and anonymous sessions the engine knows.")
    items: int = Field(description="Items the engine knows: from events or the catalogue.")
    catalogue_items: int = Field(description="Items in the catalogue (with metadata).")
    log_offset: int = Field(description="The log's newest offset: clients' events and the "
                            "engine's own entries.")
    learned_offset: int = Field(description="Every log entry up to here is learned.")
    learned_events: int = Field(description="Log entries learned (the engine's own too).")
    learn_lag_events: int = Field(description="Log entries not learned yet.")
    seconds_since_learned: float = Field(description="Since the learner last learned.")
    uptime_s: float = Field(description="Since this process started.")
    last_snapshot_offset: int = Field(description="Of the newest snapshot written.")
    seconds_since_snapshot: float = Field(description="Since this process last wrote a "
                                          "snapshot (since it started, before its first).")
    refits: int = Field(description="Background refits since this process started.")
    last_refit_s: float = Field(description="How long the last refit took, in seconds.")
    refit_failures: int = Field(description="Background refits that failed since this "
                                "process started; the previous fit served on (the server's "
                                "log has the traceback).")
    refit_error: str | None = Field(description="The last refit failure, while no refit has "
                                    "worked since; null otherwise.")
    refit_leader: bool = Field(default=True, description="Whether this process begins and "
                               "fits refits: always on a server of its own; among replicas "
                               "with Redis, the one holding the refit lease.")
    online_quality: dict[str, dict[str, float]] | None = Field(
        default=None, description="Per expert of the blend (each source, popularity at the "
        "log's pace, the learned ranker) and for the blend itself, measured on the stream: "
        "before a sample of events is learned, where would it have ranked the item the user "
        "took? hr and ndcg (@10, decayed: each test counts half after 1,000 more), total_hr "
        "and total_ndcg (every test), measured (tests), weight (the expert's share of the "
        "blend). See docs/ranking.md.")


class BudgetOut(BaseModel):
    """One bounded structure of the state against its budget."""

    setting: str | None = Field(description="The setting that bounds it; null: only the "
                                "catalogue bounds it.")
    budget: int | None = Field(description="The setting's value; null: no budget.")
    per: str = Field(description="What each one belongs to: item, user, process.")
    count: int = Field(description="How many there are (items, users, impressions).")
    largest: int = Field(description="Entries in the largest one now.")
    most: int | None = Field(description="The most entries one can hold under the budget.")
    bytes: int | None = Field(description="Bytes held now (estimate).")
    most_bytes: int | None = Field(description="The most bytes for this many items or "
                                   "users under the budget.")
    slots: int | None = Field(default=None, description="The users' budget only: the length "
                              "of per-user arrays, indices of forgotten users included (the "
                              "next new users take them).")


class SizesOut(BaseModel):
    """Memory held by each component of the engine state (engine/sizes.py), in bytes."""

    total_bytes: int = Field(description="Sum of the components.")
    components: dict[str, int] = Field(
        description="Bytes per component: vocabularies, histories, identities, impressions, "
        "each model (models.<name>), the ranker, the catalogue, begun refits, other.")
    parts: dict[str, dict[str, int]] = Field(
        description="Per component, its biggest attributes in bytes.")
    budgets: dict[str, BudgetOut] = Field(
        default_factory=dict,
        description="Each structure a setting bounds, against that setting (issue 18): "
        "models.cooccurrence.neighbours, models.als.items_per_user, histories.events, ...")
    rss_bytes: int | None = Field(
        description="The server process's resident memory; the difference to total_bytes is "
        "the interpreter, libraries, request buffers and allocator overhead.")
    seconds: float = Field(description="How long the walk over the state took (under its lock).")


class SampleOut(BaseModel):
    """The server's figures at one moment (dashboard/history.py); rates and latencies over the
    interval since the sample before."""

    time: float = Field(description="Unix seconds.")
    events: int
    users: int
    items: int
    learn_lag_events: int
    events_per_s: float = Field(description="Clients' events stored per second.")
    requests_per_s: float = Field(description="API requests answered per second (not the "
                                  "dashboard's own).")
    latency_p50_ms: float | None = Field(description="null: no request in the interval.")
    latency_p99_ms: float | None
    refits: int
    refit_failures: int
    snapshot_lag_events: int = Field(description="Log entries newer than the newest snapshot.")
    seconds_since_snapshot: float
    online_quality: dict[str, dict[str, float]] = Field(
        description="Per expert and the blend: hr, ndcg (decayed, @10) and weight, as in "
        "/v1/stats.")


class HistoryOut(BaseModel):
    sample_s: float = Field(description="Seconds between samples (dashboard.sample_s).")
    samples: list[SampleOut] = Field(description="Oldest first; this process's only.")


class RecentEventOut(BaseModel):
    offset: int
    type: str = Field(description="Types starting with $ are the engine's own entries.")
    item_id: str
    timestamp: float
    user_id: str | None = Field(default=None, description="As the log stores it: with a "
                                "pseudonym secret, the user's pseudonym.")
    session_id: str | None = Field(default=None, description="As the log stores it.")
    value: float | None = None
    event_id: str | None = None
    recommendation_id: str | None = Field(default=None, description="The list this event "
                                          "is feedback on.")


class RecentEventsOut(BaseModel):
    events: list[RecentEventOut] = Field(description="Newest first.")
    read_entries: int = Field(description="Log entries read to find them.")


class ItemsFoundOut(BaseModel):
    items: list[ItemOut]


class ActivityDayOut(BaseModel):
    day: str = Field(description="YYYY-MM-DD, UTC.")
    events: int
    by_type: dict[str, int]


class ItemActivityOut(BaseModel):
    item_id: str
    days: list[ActivityDayOut] = Field(description="Oldest first, every day of the span.")
    read_entries: int = Field(description="Newest log entries read (at most 200,000).")
    complete: bool = Field(description="Whether those reached the log's start.")


class ProposedItem(BaseModel):
    item_id: str
    score: float = Field(description="The source's own score.")


class ProposalsOut(BaseModel):
    sources: dict[str, list[ProposedItem]] = Field(
        description="Per source, its best-scored candidates for this user, best first: what "
        "it proposed before the ranker and the blend ordered the list. Empty for a user "
        "without history.")


class EvaluationFileOut(BaseModel):
    path: str = Field(description="Relative to the data directory.")
    kind: str = Field(description="json, md or png.")
    bytes: int
    modified: float = Field(description="Unix seconds.")


class EvaluationsOut(BaseModel):
    files: list[EvaluationFileOut] = Field(description="Newest first.")


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


# -- experiments (GET/POST /v1/experiments) ------------------------------------------------
Name = Annotated[str, Field(strict=True, min_length=1, max_length=64,
                            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    weight: Number = Field(default=1.0, gt=0, description="Its share of users: weight over "
                           "the sum of the variants' weights.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Serving settings for its users, by name as after "
        "STREAMREC_ (lower case, '.' for '__'), e.g. {\"models.hybrid.hedge.enabled\": false}. "
        "Allowed: models.hybrid.per_source, only_source, disabled_sources, "
        "hedge.enabled, hedge.learning_rate, hedge.ranker_prior, hedge.paced_candidates; "
        "models.negatives.window, half_life_s, strength, hide_at_weight; "
        "serving.max_per_category. See docs/experiments.md.")


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Never reused: a stopped experiment keeps its results.")
    variants: list[VariantIn] = Field(min_length=2, max_length=20, description="The first "
                                      "is the control the others are compared with.")
    goal: Annotated[str, Field(strict=True, min_length=1, max_length=64)] = Field(
        default="click", description="The event type whose rate per list (lists with at "
        "least one such feedback event, over lists shown) is clicks/ctr and the verdict.")
    description: Annotated[str, Field(strict=True, max_length=1000)] = ""


class EventRateOut(BaseModel):
    lists: int = Field(description="Lists with at least one feedback event of this type.")
    events: int = Field(description="Feedback events of this type naming the variant's lists.")
    rate: float = Field(description="lists / impressions.")
    ci_low: float
    ci_high: float


class VersusControlOut(BaseModel):
    control: str
    difference: float = Field(description="This variant's ctr minus the control's.")
    ci_low: float = Field(description="Newcombe's interval of the difference, at confidence.")
    ci_high: float
    confidence: float = Field(description="0.95, raised by Bonferroni's correction with more "
                              "than one comparison.")


class VariantOut(BaseModel):
    name: str
    weight: float
    overrides: dict[str, Any]
    users: int = Field(description="Users (and sessions) shown at least one of its lists.")
    impressions: int = Field(description="Lists (pages) shown in it.")
    clicks: int = Field(description="Lists with at least one feedback event of the goal's "
                        "type (an event naming the list's recommendation_id).")
    ctr: float = Field(description="clicks / impressions.")
    ci_low: float = Field(description="Wilson's 95% interval of ctr.")
    ci_high: float
    events: dict[str, EventRateOut] = Field(description="The same per feedback event type "
                                            "(conversions: cart, purchase, ...).")
    vs_control: VersusControlOut | None = Field(default=None, description="Absent for the "
                                                "control (the first variant).")


class ExperimentOut(BaseModel):
    name: str
    status: Literal["running", "stopped"]
    description: str
    goal: str
    assignment: str = Field(description="The rule putting a user in a variant, as logged "
                            "with the start: a hash of the experiment's name and the user.")
    started_at: float
    started_offset: int = Field(description="The log offset of its start event.")
    stopped_at: float | None
    stopped_offset: int | None
    confidence: float
    variants: list[VariantOut]
    verdict: str = Field(description="In plain words: which variant beats which on the goal, "
                         "by how many points and with what interval; or that there is no "
                         "clear difference yet and about how many more impressions would "
                         "tell.")
    winner: str | None = Field(description="The variant the verdict names as best, if any.")
    problem: str | None = Field(description="A variant whose overrides no longer fit the "
                                "settings (it serves the defaults), else null.")


class ExperimentsOut(BaseModel):
    experiments: list[ExperimentOut] = Field(description="Newest first.")
