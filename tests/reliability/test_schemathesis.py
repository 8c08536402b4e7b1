"""Schemathesis over every operation of /openapi.json, valid and invalid requests, against
the app under uvicorn on 127.0.0.1: no 5xx, and every response as the schema declares.

Bounded: at most EXAMPLES requests per operation and mode, and BUDGET_S seconds of them
(answers and writes are the slow ones), so the run takes about a minute on 2 cores.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import API_KEY

pytestmark = pytest.mark.slow
EXAMPLES = 400
BUDGET_S = 5.0
# Every check but "schema-valid data is accepted": some rules are not the schema's to state
# (a conversation needs a user turn, a document more than boilerplate), so valid-looking
# requests get a clear 4xx. Invalid data must still be rejected, and nothing may be a 5xx.
EXCLUDED_CHECKS: list[CheckFunction] = [positive_data_acceptance]
# Writes run too: schemathesis' documents are added to (and deleted from) a private index.
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _fuzz(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    tally: Tally,
) -> None:
    stop_at = time.monotonic() + BUDGET_S

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Any]) -> None:
        if time.monotonic() > stop_at:
            return
        response = case.call(base_url=base_url, session=session, headers=HEADERS)
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, headers=HEADERS, excluded_checks=EXCLUDED_CHECKS)
        except (Failure, FailureGroup) as error:  # every one, reported at the end
            tally.failures.append(f"{operation.label} [{mode.value}]: {error}"[:700])

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (GET /healthz takes no input): no negative case exists.
        assert mode == GenerationMode.NEGATIVE, operation.label


def test_schemathesis_finds_no_server_errors(live_server_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server_url}/openapi.json")
    tally = Tally()
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), [r for r in results if not isinstance(r, Ok)]
    started = time.monotonic()
    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, live_server_url, session, tally)
    seconds = time.monotonic() - started
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    print(
        f"\nschemathesis: {len(operations)} operations, {tally.statuses.total()} requests in "
        f"{seconds:.0f} s, {server_errors} 5xx, statuses {dict(sorted(tally.statuses.items()))}"
    )
    declared = requests.get(f"{live_server_url}/openapi.json", timeout=10).json()["paths"]
    assert len(operations) == sum(len(methods) for methods in declared.values())  # all of them
    assert server_errors == 0, tally.statuses
    assert not tally.failures, "\n".join(tally.failures)
