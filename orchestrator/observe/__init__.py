"""Observability: Prometheus metrics, OpenTelemetry spans, audit events, structured logging and secret redaction."""
