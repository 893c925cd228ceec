"""Settings: the one configuration object, built where the program starts and passed down.

Environment variables use the prefix ``STREAMREC_`` and ``__`` between levels, e.g.
``STREAMREC_MODELS__POPULARITY__HALF_LIFE_S=86400``. Each model's section is its own small
class beside the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamrec.events.types import EventTypeConfig, default_event_types
from streamrec.models.als import ALSConfig
from streamrec.models.content import ContentConfig
from streamrec.models.cooccurrence import CooccurrenceConfig
from streamrec.models.ease import EASEConfig
from streamrec.models.popularity import PopularityConfig
from streamrec.models.sequence_config import SequenceConfig
from streamrec.ranking.features import layout
from streamrec.ranking.hybrid import HybridConfig
from streamrec.ranking.negatives import NegativesConfig


class StorageSettings(BaseModel):
    # STREAMREC_STORAGE__LOG is the name issue 17 gave it; STREAMREC_STORAGE__LOG_URL, its
    # first name, stays accepted (deployments set it)
    log_url: str | None = Field(
        default=None, validation_alias=AliasChoices("log", "log_url"),
        description="Event log URL (STREAMREC_STORAGE__LOG, or STREAMREC_STORAGE__LOG_URL); "
                    "default sqlite:///<data_dir>/events.db")
    catalogue_url: str | None = Field(
        default=None, description="Catalogue URL; default sqlite:///<data_dir>/catalogue.db"
    )
    synchronous: Literal["full", "normal", "off"] = Field(
        default="full",
        description="SQLite fsync policy: full survives power loss, normal survives kill -9.",
    )
    key_store_url: str | None = Field(
        default=None, description="Where each user's data key (the log's encryption at rest, "
        "erased by destroying it) is kept; default sqlite:///<data_dir>/user_keys.db, or "
        "replicas.redis_url for a kafka:// log (replicas share the keys of the topic).")

    @model_validator(mode="before")
    @classmethod
    def _one_log(cls, data: Any) -> Any:
        """The log's two names given two different URLs: which one was meant is unknown."""
        if isinstance(data, dict):
            given = {str(key).lower(): value for key, value in data.items()
                     if str(key).lower() in ("log", "log_url")}
            if len(given) == 2 and given["log"] != given["log_url"]:
                raise ValueError("STREAMREC_STORAGE__LOG and STREAMREC_STORAGE__LOG_URL (its "
                                 f"older name) name different logs ({given['log']!r}, "
                                 f"{given['log_url']!r}): set one")
        return data


class SnapshotSettings(BaseModel):
    every_events: int = Field(default=200_000, ge=1)
    every_s: float = Field(default=300.0, gt=0)
    keep: int = Field(default=2, ge=1)
    every_learning_s: float = Field(
        default=4.0, gt=0,
        description="Also due after this many seconds of learning since the last: a crash "
                    "leaves a restart the log's tail to learn again at about the live pace, "
                    "so this bounds that part of a restart on any stream and machine.")
    max_busy_share: float = Field(
        default=0.2, gt=0, le=1,
        description="At most this share of a core spent on snapshots: after one that cost "
                    "d seconds (its copies' time, and the CPU time its write used: not its "
                    "waits for the disk or, at its lower priority, for a CPU others used), "
                    "the next is taken d / share seconds after the last at the earliest (a "
                    "big state is written less often).")
    nice: int = Field(
        default=10, ge=0, le=19,
        description="Niceness of the thread that takes a snapshot's copies and writes it "
                    "(Linux: per thread): on a machine of few cores, reads beside it take the "
                    "CPU first (read p99 beside a capture at 100k items: 11 ms at 0, 6-7 ms at "
                    "10-19). The learner waits for the copies either way. 0: as the rest.")


class ModelSettings(BaseModel):
    popularity: PopularityConfig = Field(default_factory=PopularityConfig)
    cooccurrence: CooccurrenceConfig = Field(default_factory=CooccurrenceConfig)
    als: ALSConfig = Field(default_factory=ALSConfig)
    content: ContentConfig = Field(default_factory=ContentConfig)
    sequence: SequenceConfig = Field(
        default_factory=SequenceConfig,
        description="The GRU sequence model (models/sequence.py; training needs torch).")
    ease: EASEConfig = Field(default_factory=EASEConfig)
    hybrid: HybridConfig = Field(default_factory=HybridConfig)
    negatives: NegativesConfig = Field(
        default_factory=NegativesConfig,
        description="How dislikes, skips and returns push items and their neighbours down.")
    # how refits are run, not what they learn: left out of the model fingerprint (exclude),
    # so changing them keeps the snapshots
    trainer_poll_s: float = Field(default=1.0, gt=0, exclude=True,
                                  description="How often refits are checked.")
    trainer_nice: int = Field(
        default=10, ge=0, le=19, exclude=True,
        description="Niceness of the threads that compute refits (Linux: per thread, and a "
        "GRU fit's child process keeps it): on a machine of few cores a refit takes the CPU "
        "learning and serving leave first. 0: as the rest.")
    trainer_stop_wait_s: float = Field(
        default=60.0, ge=0, exclude=True,
        description="How long a shutdown waits for a refit under way to stop at its next "
        "step (ALS: an iteration, seconds at 1M items; the GRU: a batch). A fit still running "
        "then is left, begun and not ended: the next start fits it.")


class EventSettings(BaseModel):
    types: dict[str, EventTypeConfig] = Field(default_factory=default_event_types)
    history_length: int = Field(
        default=500, ge=1, description="Recent events kept per user for queries; older ones "
        "leave only their items (for exclude-seen). Memory: at most 1.25x this many events "
        "per user, 24 bytes each (engine/histories.py).")
    # which users are forgotten is in the log ($forget), not worked out from this setting on
    # replay: left out of the model fingerprint (exclude), so changing it rebuilds nothing
    max_users: int = Field(
        default=1_000_000, ge=0, exclude=True,
        description="Users whose state is kept (history, recent window, ALS and EASE rows, "
        "...). Past it, the users idle longest are forgotten, "
        "down to 7/8 of it, by a logged $forget event: their events stay in the log and in "
        "what they taught about items; a forgotten user who comes back starts afresh "
        "(engine/forgetting.py). 0: no bound.")

    @field_validator("types")
    @classmethod
    def _no_reserved_names(cls, types: dict[str, EventTypeConfig]
                           ) -> dict[str, EventTypeConfig]:
        reserved = sorted(name for name in types if name.startswith("$"))
        if reserved:
            raise ValueError(f"event type names starting with '$' are the engine's own "
                             f"(e.g. $merge, a session merged into its user): {reserved}")
        return types


class RateLimit(BaseModel):
    """A token bucket: ``per_second`` sustained, ``burst`` at once; ``per_second=0`` disables."""

    per_second: float = Field(default=1_000.0, ge=0, description="Requests per second; 0: off.")
    burst: int = Field(default=2_000, ge=1, description="Requests allowed at once.")


class ServingSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=10_000, ge=1)
    max_k: int = Field(default=500, ge=1)
    learn_timeout_s: float = Field(
        default=30.0, gt=0, description="How long a write waits to be learned (read-your-writes)."
    )
    read_timeout_s: float = Field(
        default=30.0, gt=0, description="A read (GET) not answered within this answers 503."
    )
    max_queued_events: int = Field(
        default=200_000, ge=1,
        description="Events waiting for the log's writer beyond which writes answer 503.",
    )
    rate_limit: RateLimit = Field(
        default_factory=RateLimit,
        description="Per caller (API key, or client address on an open server) and scope.",
    )
    rate_limit_by_scope: dict[Literal["ingest", "read", "admin"], RateLimit] = Field(
        default_factory=dict, description="Overrides rate_limit for the routes of one scope."
    )
    impressions_kept: int = Field(
        default=100_000, ge=1, description="Lists remembered for feedback and paging (~1.4 "
        "KiB each at list_depth 30, ~1.9 KiB at 50; a list's later pages share it); the "
        "oldest is forgotten first.")
    impressions_url: str = Field(
        default="memory:", description="Where shown lists are kept: memory: (this process).")
    list_depth: int = Field(
        default=30, ge=1, le=10_000, description="Positions of a list made and kept for its "
        "later pages (after=): paging continues it to this depth (or the first page's k).")
    max_per_category: int | None = Field(
        default=None, ge=1, description="Diversity of a list whose request gives no "
        "max_per_category: at most this many items per value of the diversity attribute "
        "(null: no limit); e.g. an experiment's variant that diversifies.")
    open_docs: bool = Field(
        default=False, description="Serve /docs, /redoc and /openapi.json to anyone; by "
        "default they need a read key wherever the routes need keys.")
    malloc_arena_max: int = Field(
        default=2, ge=0, description="glibc malloc arenas (0: glibc's default, 8 per core): "
        "each is kept at its own high-water mark, see serving/allocator.py.")
    malloc_trim_s: float = Field(
        default=10.0, ge=0, description="Give freed heap pages back to the OS this often "
        "(glibc malloc_trim; 0: never).")
    gc_young_objects: int = Field(
        default=50_000, ge=0, description="Python's garbage collector: collect the young "
        "generation after this many net allocations, in a start's replay of the log and "
        "once the engine has opened, when what exists is also frozen (0: Python's defaults, "
        "700 and nothing frozen); see engine/collector.py.")
    # slow and idle clients (serving/http_server.py)
    client_timeout_s: float = Field(
        default=60.0, gt=0, description="Each request, head and body, must arrive within this "
        "many seconds of its connection opening or of the previous answer; a client still "
        "sending (or sending nothing) is disconnected.")
    keep_alive_s: int = Field(
        default=5, ge=1, description="A kept-alive connection idle this long is closed.")
    max_connections: int = Field(
        default=1000, ge=1, description="Connections (and requests in progress) at once; "
        "beyond, new requests answer 503.")


class ReplicaSettings(BaseModel):
    """Several servers on one shared log (storage.log_url ``kafka://``): docs/deploy.md."""

    redis_url: str | None = Field(
        default=None, description="redis://HOST:PORT/DB: what replicas must agree on that is "
        "not in the log (shown lists, rate-limit buckets, revoked keys, the refit lease); "
        "unset: this process's own, as embedded.")
    redis_prefix: str = Field(
        default="streamrec:", min_length=1, description="Start of every Redis key of this "
        "deployment (several can share one Redis by prefix or by database number).")
    shared_dir: Path | None = Field(
        default=None, description="A directory every replica reads and writes (a volume, "
        "NFS): refit artefacts go to <shared_dir>/artefacts, so a fit made by the refit "
        "leader is loaded by the others instead of fitted again; unset: <data_dir>/artefacts.")
    refit_lease_s: float = Field(
        default=10.0, gt=0, description="With Redis: the refit leader's lease; one replica at a "
        "time begins and fits refits, another takes over this long after it stops renewing.")
    impressions_ttl_s: float = Field(
        default=86_400.0, gt=0, description="How long a shown list is kept in Redis for its "
        "later pages and feedback.")
    consistency_wait_s: float = Field(
        default=5.0, gt=0, description="How long a read sent with a consistency token waits "
        "for this server to apply the write it names; then 503 with Retry-After.")


class TrustSettings(BaseModel):
    pseudonym_secret: SecretStr | None = None

    @field_validator("pseudonym_secret")
    @classmethod
    def _not_blank(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not secret.get_secret_value().strip():
            raise ValueError("the pseudonym secret is empty: set it to at least 32 random "
                             "bytes, or leave it unset to store raw ids")
        return secret


class DashboardSettings(BaseModel):
    """The dashboard (/dashboard): its charts draw from samples the server takes itself."""

    sample_s: float = Field(default=5.0, gt=0, description="How often the server samples its "
                            "figures for the dashboard's charts (GET /v1/stats/history).")
    samples_kept: int = Field(default=720, ge=2, description="Samples kept (720 every 5 s: "
                              "the last hour).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STREAMREC_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path("streamrec-data")
    storage: StorageSettings = Field(default_factory=StorageSettings)
    snapshots: SnapshotSettings = Field(default_factory=SnapshotSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    replicas: ReplicaSettings = Field(default_factory=ReplicaSettings)
    trust: TrustSettings = Field(default_factory=TrustSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_variables(cls, data: Any) -> Any:
        """A misspelt STREAMREC_ variable, or a misspelt key in a JSON value, stops the
        program (either would be ignored otherwise)."""
        from streamrec.setting_names import refuse_unknown_keys, refuse_unknown_names

        refuse_unknown_names(cls, os.environ)
        refuse_unknown_keys(cls, data)
        return data

    @property
    def log_url(self) -> str:
        return self.storage.log_url or f"sqlite:///{self.data_dir / 'events.db'}"

    @property
    def catalogue_url(self) -> str:
        return self.storage.catalogue_url or f"sqlite:///{self.data_dir / 'catalogue.db'}"

    @property
    def key_store_url(self) -> str:
        """The data keys sealing each user's log entries (storage/keystore.py)."""
        if self.storage.key_store_url:
            return self.storage.key_store_url
        if self.log_url.startswith("kafka://") and self.replicas.redis_url:
            return self.replicas.redis_url  # replicas share the topic: they share its keys
        return f"sqlite:///{self.data_dir / 'user_keys.db'}"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def artefact_dir(self) -> Path:
        """Fitted models that ``$refit-end`` events name (storage/artefacts.py); replicas
        with a shared directory share them."""
        if self.replicas.shared_dir is not None:
            return self.replicas.shared_dir / "artefacts"
        return self.data_dir / "artefacts"

    def model_fingerprint(self) -> str:
        """Changes whenever a setting that shapes model state changes, or the registered
        sources and the ranker's features do: a snapshot made under others is not reused,
        state is rebuilt from the log instead."""
        return self._fingerprint_of(self.models.model_dump_json())

    def earlier_model_fingerprints(self) -> set[str]:
        """What ``model_fingerprint`` was for these settings before the trainer's settings
        left it (63fd5b9): a snapshot made then still fits, and an upgrade replays nothing."""
        models = self.models
        run = (f',"trainer_poll_s":{models.trainer_poll_s!r},'
               f'"trainer_nice":{models.trainer_nice!r},'
               f'"trainer_stop_wait_s":{models.trainer_stop_wait_s!r}}}')
        return {self._fingerprint_of(models.model_dump_json()[:-1] + run)}

    def _fingerprint_of(self, models_json: str) -> str:
        import hashlib

        shaping = models_json + self.events.model_dump_json() + ",".join(layout().features)
        return hashlib.sha256(shaping.encode()).hexdigest()[:16]
