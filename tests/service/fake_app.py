"""A gunicorn entry point serving the in-test rule set (``CDS_TEST_DB`` names the SQLite file).

    gunicorn 'tests.service.fake_app:create()'
"""

from __future__ import annotations

import os

from cds_hooks.app import create_app
from cds_hooks.config import development_config
from cds_hooks.serving import StaticRegistry, StaticSnapshot

from .fakes import fake_ruleset


def create():
    """The service with the in-test rule set, authentication off."""
    config = development_config(database_url=f"sqlite:///{os.environ['CDS_TEST_DB']}",
                                fhir_deadline=float(os.environ.get("CDS_FHIR_DEADLINE", "1.0")))
    return create_app(config, registry=StaticRegistry(StaticSnapshot([fake_ruleset()])))
