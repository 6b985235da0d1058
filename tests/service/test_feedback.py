"""``POST /cds-services/{id}/feedback`` through the API: validation, linking, idempotency."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from cds_hooks.storage.models import Feedback

from .data import full_prefetch, request


def issue_cards(client) -> list[dict]:
    response = client.post("/cds-services/test-patient-view",
                           data=json.dumps(request("patient-view", prefetch=full_prefetch())))
    return response.get_json()["cards"]


def send(client, entries, service="test-patient-view"):
    return client.post(f"/cds-services/{service}/feedback", data=json.dumps({"feedback": entries}))


def stored(app) -> list[Feedback]:
    with app.extensions["cds"].database.session() as session:
        return session.scalars(select(Feedback).order_by(Feedback.pk)).all()


def test_feedback_links_to_issued_cards_and_is_idempotent(app, client):
    cards = issue_cards(client)
    condition = next(c for c in cards if c["source"]["topic"]["code"] == "has-condition")
    entries = [
        {"card": condition["uuid"], "outcome": "accepted",
         "acceptedSuggestions": [{"id": condition["suggestions"][0]["uuid"]}],
         "outcomeTimestamp": "2026-11-21T09:00:00Z"},
        {"card": cards[0]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-21T09:00:01Z",
         "overrideReason": {"reason": {"system": "https://example.org/override", "code": "not-relevant"},
                            "userComment": "seen already"}},
    ]
    first = send(client, entries)
    assert first.status_code == 200 and first.get_data() == b""
    assert send(client, entries).status_code == 200  # the same entries again
    rows = stored(app)
    assert len(rows) == 2
    assert all(not r.unknown_card and r.issued_card_uuid == r.card_uuid for r in rows)
    assert rows[1].override_reason["reason"]["code"] == "not-relevant"
    text = client.get("/metrics").get_data(as_text=True)
    assert 'cds_feedback_total{card="known",outcome="accepted",service="test-patient-view"} 1.0' in text
    assert "cds_feedback_duplicates_total 2.0" in text


def test_unknown_card_is_stored_and_flagged(app, client):
    response = send(client, [{"card": "not-a-card-we-issued", "outcome": "overridden",
                              "outcomeTimestamp": "2026-11-21T09:00:00Z"}])
    assert response.status_code == 200
    [row] = stored(app)
    assert row.unknown_card and row.issued_card_uuid is None


def test_feedback_to_the_wrong_service_is_not_linked(app, client):
    cards = issue_cards(client)
    send(client, [{"card": cards[0]["uuid"], "outcome": "overridden",
                   "outcomeTimestamp": "2026-11-21T09:00:00Z"}], service="test-order-sign")
    [row] = stored(app)
    assert row.unknown_card and row.service_id == "test-order-sign"


@pytest.mark.parametrize("body,message", [
    ({"feedback": []}, "feedback"),
    ({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-21T09:00:00Z"}]},
     "acceptedSuggestions"),
    ({"feedback": [{"card": "c", "outcome": "dismissed", "outcomeTimestamp": "2026-11-21T09:00:00Z"}]},
     "outcome"),
    ({"feedback": [{"card": "c", "outcome": "overridden"}]}, "outcomeTimestamp"),
    ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]}, "outcomeTimestamp"),
    ({"cards": []}, "feedback"),
])
def test_invalid_feedback_is_400(client, body, message):
    response = client.post("/cds-services/test-patient-view/feedback", data=json.dumps(body))
    assert response.status_code == 400
    assert message in json.dumps(response.get_json())


def test_feedback_for_an_unknown_service_is_404(client):
    response = send(client, [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-21T09:00:00Z"}],
                    service="nope")
    assert response.status_code == 404


def test_feedback_trailing_slash_and_bad_json(client):
    response = client.post("/cds-services/test-patient-view/feedback/", data="{")
    assert response.status_code == 400 and "line 1 column 2" in json.dumps(response.get_json())
