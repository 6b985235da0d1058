"""Flask blueprints: discovery, services, feedback and health."""
