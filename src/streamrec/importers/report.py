"""What one import did with each row: the counts a user checks before trusting the result."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_REASONS = 5


@dataclass(slots=True)
class ImportReport:
    """Counts filled in while a reader's iterator is consumed; final once it is exhausted.

    For ``read_events`` every data row lands in exactly one bucket:
    ``rows_read == produced + skipped_by_filters + skipped_anonymous + rejected``.
    ``reasons`` keeps the first ``max_reasons`` rejections, each naming file, line and column.
    """

    rows_read: int = 0
    produced: int = 0  # events (or items, for the item readers) handed to the caller
    filtered_by: dict[str, int] = field(default_factory=dict)  # by the first failing filter
    skipped_anonymous: int = 0  # no user, and no session to stand in for one
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)
    max_reasons: int = DEFAULT_MAX_REASONS

    @property
    def skipped_by_filters(self) -> int:
        return sum(self.filtered_by.values())

    def filtered(self, condition: str) -> None:
        self.filtered_by[condition] = self.filtered_by.get(condition, 0) + 1

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < self.max_reasons:
            self.reasons.append(reason)

    def summary(self) -> str:
        """One line for a terminal, then the first reasons, one per line."""
        filters = ", ".join(f"{name}: {count:,}" for name, count in self.filtered_by.items())
        text = (f"{self.rows_read:,} rows read, {self.produced:,} produced, "
                f"{self.skipped_by_filters:,} skipped by filters"
                + (f" ({filters})" if filters else "")
                + f", {self.skipped_anonymous:,} anonymous skipped, {self.rejected:,} rejected")
        return "\n".join([text, *(f"  {reason}" for reason in self.reasons)])
