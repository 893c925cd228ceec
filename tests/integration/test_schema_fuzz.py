"""schemathesis over the OpenAPI schema, against a real server process: no 5xx, and every
status, header and body the server answers is one the schema declares.

A bounded number of examples per operation keeps the run under a minute; hypothesis is
derandomized (tests/conftest.py), so the same cases run every time.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 40
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_declared_and_none_is_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
