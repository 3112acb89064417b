"""``parakeet-trt serve``: many live streams and OpenAI-compatible transcription on Ray Serve.

One concern per module: ``config`` (options and limits, defined once), ``auth`` (API key, origins),
``metrics`` (Prometheus text), ``openai_api`` (``POST /v1/audio/transcriptions``), ``stream``
(``GET /v1/stream`` websocket over the live pipeline's engine lane), ``app`` (the Ray Serve deployment
and its FastAPI routes), ``cli`` (the command). Importing this package does not import Ray.
"""
