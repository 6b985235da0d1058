"""The admin API: rule-set lifecycle, audit and feedback over HTTP, with admin tokens.

``cds_hooks.admin.blueprint`` holds the Flask blueprint (``bp``) and
``register_admin(app)``, which the service's ``create_app`` calls.
"""
