"""The markdown table's time column has one format whatever the durations' sizes."""

from __future__ import annotations

import re

from streamrec.evaluation.report import markdown_table


def test_the_time_column_has_one_format() -> None:
    durations = [0.04, 2.35, 45.25, 236.0, 1234.56, None]
    report = {"settings": {"k": 10},
              "results": [{"model": f"m{i}", "seconds": seconds}
                          for i, seconds in enumerate(durations)]}
    rows = markdown_table(report).splitlines()[2:]
    times = [row.strip("| ").split(" | ")[-1] for row in rows]
    assert times == ["0.0", "2.4", "45.2", "236.0", "1,234.6", "-"]
    assert all(re.fullmatch(r"[\d,]+\.\d|-", time) for time in times)
