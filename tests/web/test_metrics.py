"""/metrics: Prometheus' text format, private, and its figures move with real traffic.

The traffic is real: residents' SMS through the provider's signed callback over HTTP, a
real `smsbot worker` process handling them and sending the replies through the stand-in,
its delivery callbacks back over HTTP. The worker writes its counters into the directory
PROMETHEUS_MULTIPROC_DIR names (as every process does under `smsbot run`); the web in this
process counts in memory; a scrape adds both up.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from smsbot import metrics
from tests import logscan
from tests.support import die_with_parent, outbound_messages, wait_until

DEMO_PHONE = "+79851234567"
COMPANY_NUMBER = "+74951230001"
TOKEN = "metrics-token-0123456789"
TEXTS = ("помощь", "баланс", "помощь")


def scrape(client, **query: str) -> dict[tuple[str, tuple], float]:  # noqa: ANN001
    """Every sample of a scrape, by (name, sorted labels)."""
    response = client.get("/metrics", query_string=query)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain" and "version=" in response.content_type
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.data.decode())
        for s in family.samples
    }


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


# --- who may read it -------------------------------------------------------------------------


@pytest.fixture()
def app_env(app_env):  # noqa: ANN001, ANN201
    return {**app_env, "METRICS_TOKEN": TOKEN}


def test_with_a_token_set_only_its_bearer_reads(client):  # noqa: ANN001
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get("/metrics", query_string={"token": "nope"}).status_code == 403
    bearer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and b"smsbot_queue_depth" in bearer.data
    assert client.get("/metrics", query_string={"token": TOKEN}).status_code == 200


def test_without_a_token_only_this_machine_reads(app_env):  # noqa: ANN001
    from app import create_app

    client = create_app({**app_env, "METRICS_TOKEN": ""}).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert remote.status_code == 403 and b"METRICS_TOKEN" in remote.data
    proxied = client.get(
        "/metrics",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert proxied.status_code == 403


# --- figures after real traffic --------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the scrape's queries
@pytest.mark.parametrize("provider", ["twilio"], indirect=True)  # run on both in the tests above
def test_a_scrape_after_traffic_finds_every_counter_moved(service, provider, tmp_path, monkeypatch):  # noqa: ANN001
    folder = tmp_path / "metrics"
    folder.mkdir()
    monkeypatch.setenv(metrics.MULTIPROC_DIR, str(folder))
    app, env = service()
    client = app.test_client()
    before = scrape(client, token=TOKEN)
    settings = app.config["SMSBOT_SETTINGS"]
    for text in TEXTS:  # stored and queued, not yet handled: no worker runs
        provider.text(settings, text, from_phone=DEMO_PHONE, to_phone=COMPANY_NUMBER)
    waiting = scrape(client, token=TOKEN)
    assert waiting[("smsbot_queue_depth", (("queue", "inbound"),))] >= 1
    assert waiting[("smsbot_queue_oldest_job_age_seconds", (("queue", "inbound"),))] >= 0
    received = ("smsbot_messages_waiting", (("direction", "in"), ("provider", "twilio"), ("state", "received")))  # fmt: skip
    assert waiting[received] == len(TEXTS)

    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "smsbot.cli", "worker"],
            env={**os.environ, **env, "SMSBOT_LOG_LEVEL": "INFO"},
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )  # fmt: skip
    try:
        wait_until(
            lambda: len([m for m in outbound_messages() if m.status == "delivered"]) == len(TEXTS),
            what="every reply delivered",
        )
        metrics.abuse_stop("rate_limit")  # what the abuse guard calls
        after = wait_until(
            lambda: (
                (s := scrape(client, token=TOKEN))
                and moved(before, s, "smsbot_send_seconds_count", provider="twilio") >= len(TEXTS)
                and s
            ),
            what="the worker's counters in the scrape",
        )
    finally:
        worker.terminate()
        worker.wait(10)
        logscan.COLLECTOR.add_output("smsbot worker", log.read_text())

    assert moved(before, after, "smsbot_messages_in_total", provider="twilio") == len(TEXTS)
    handed = sum(
        moved(before, after, "smsbot_messages_out_total", provider="twilio", state=state)
        for state in ("accepted", "sent", "delivered")
    )
    assert handed == len(TEXTS)
    assert moved(before, after, "smsbot_delivery_states_total", provider="twilio", state="delivered") == len(TEXTS)  # fmt: skip
    assert moved(before, after, "smsbot_send_seconds_bucket", provider="twilio", le="+Inf") == len(TEXTS)  # fmt: skip
    assert moved(before, after, "smsbot_abuse_stops_total", reason="rate_limit") == 1
    assert after[received] == 0
    assert after[("smsbot_state_readable", (("source", "database"),))] == 1
    assert after[("smsbot_state_readable", (("source", "redis"),))] == 1
    assert any(f.name.endswith(".db") for f in folder.iterdir()), "the worker wrote its counters"


def test_smsbot_run_gives_its_children_an_emptied_metrics_folder(tmp_path):  # noqa: ANN001
    from smsbot.runner import fresh_metrics_dir

    folder = fresh_metrics_dir({}, tmp_path)
    assert folder == tmp_path / "metrics" and folder.is_dir()
    (folder / "counter_4242.db").write_bytes(b"last run")
    (folder / "keep.txt").write_text("not ours")
    assert fresh_metrics_dir({metrics.MULTIPROC_DIR: str(folder)}, tmp_path / "x") == folder
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
