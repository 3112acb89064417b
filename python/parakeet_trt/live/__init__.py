"""Live captions: audio sources, DSP and VAD, the engine lane, transcript events and sinks.

``parakeet-trt live`` assembles them (``pipeline.run_live``); the transcript state itself (commit
policy, patches, endpoints) is the C++ core's ``TranscriptState``. The event format is
docs/PATCH_PROTOCOL.md.
"""
