"""Every published event type, one class per type and major version."""
