"""The operational endpoints every service gets from the app factory."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from credflow_common.http import ServiceInfo, create_service_app
from credflow_common.settings import RuntimeSettings


async def healthy() -> None:
    return None


async def broken() -> None:
    raise ConnectionRefusedError("connection refused on 127.0.0.1:1")


def test_health_answers_with_the_service_name() -> None:
    client = TestClient(create_service_app(ServiceInfo(name="review")))
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "review"}


def test_ready_is_503_and_names_the_failing_dependency() -> None:
    info = ServiceInfo(name="review", readiness_checks={"postgres": healthy, "kafka": broken})
    response = TestClient(create_service_app(info)).get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert list(body["failing"]) == ["kafka"]
    assert "connection refused" in body["failing"]["kafka"]


def test_ready_is_200_when_every_dependency_answers() -> None:
    info = ServiceInfo(name="review", readiness_checks={"postgres": healthy})
    assert TestClient(create_service_app(info)).get("/ready").status_code == 200


def test_metrics_expose_request_latency_by_route() -> None:
    client = TestClient(create_service_app(ServiceInfo(name="review")))
    client.get("/health")
    text = client.get("/metrics").text
    assert (
        'http_request_duration_seconds_count{method="GET",route="/health",status="200"} 1.0' in text
    )


def test_a_chatty_librarys_repeated_message_is_let_through_once_per_window() -> None:
    import logging

    from credflow_common.logging import OncePerWindow

    gate = OncePerWindow(window_s=30, loggers=("aiokafka",))
    assert gate.filter(logging.LogRecord("credflow", logging.INFO, "", 0, "x", (), None))

    def record(at: float) -> logging.LogRecord:
        made = logging.LogRecord(
            "aiokafka", logging.ERROR, "", 0, "Unable connect to %s", ("n",), None
        )
        made.created = at
        return made

    records = [record(0), record(1), record(2), record(31)]
    passed = [gate.filter(r) for r in records]
    assert passed == [True, False, False, True]
    assert records[0].getMessage() == "Unable connect to n"
    assert records[-1].getMessage() == "Unable connect to n (and 2 more like it in the last 30 s)"


def test_the_default_environment_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDFLOW_ENVIRONMENT", raising=False)
    assert RuntimeSettings(_env_file=None).environment == "production"


def test_in_production_metrics_answer_only_the_scrape_token() -> None:
    production = RuntimeSettings(environment="production", metrics_token="scrape-me")
    client = TestClient(create_service_app(ServiceInfo(name="review"), runtime=production))
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert scraped.status_code == 200
    assert "http_request_duration_seconds" in scraped.text
    unset = RuntimeSettings(environment="production", metrics_token=None)
    closed = TestClient(create_service_app(ServiceInfo(name="review"), runtime=unset))
    assert closed.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    development = RuntimeSettings(environment="development")
    open_ = TestClient(create_service_app(ServiceInfo(name="review"), runtime=development))
    assert open_.get("/metrics").status_code == 200


def test_api_docs_can_be_turned_off() -> None:
    on = TestClient(create_service_app(ServiceInfo(name="review")))
    assert on.get("/openapi.json").status_code == 200
    assert on.get("/docs").status_code == 200
    off = RuntimeSettings(api_docs=False)
    client = TestClient(create_service_app(ServiceInfo(name="review"), runtime=off))
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404
    assert client.get("/health").status_code == 200
