"""Sinks: where transcript events go. Each has ``start()``, ``emit(event)`` and ``close()`` (async);
a sink reports when it has rendered an event to the pipeline's MetricsRecorder."""
