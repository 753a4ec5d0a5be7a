"""Actors and the pure state machines they run (internal API; the public surface is ``orchestrator``)."""
