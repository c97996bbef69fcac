"""The media routes: images (generations, edits) and audio (speech, transcriptions,
translations), relayed to OpenAI-compatible channels and billed by their own units.

Nothing is imported here, only the endpoint names are: the gateway loads the pipeline
(:mod:`relaygate.relay.media.handler`) on the first media call, so a gateway that serves
none never holds it (idle memory is a target, docs/benchmarks.md). The built-in echo
provider reads uploads with :mod:`relaygate.relay.media.forms`, which must stay pure (no
billing, no database). docs/media.md describes the routes.
"""

__all__ = ["IMAGES", "IMAGE_EDITS", "MEDIA_ENDPOINTS", "SPEECH", "TRANSCRIPTIONS", "TRANSLATIONS"]

IMAGES = "images/generations"
IMAGE_EDITS = "images/edits"
SPEECH = "audio/speech"
TRANSCRIPTIONS = "audio/transcriptions"
TRANSLATIONS = "audio/translations"
MEDIA_ENDPOINTS = (IMAGES, IMAGE_EDITS, SPEECH, TRANSCRIPTIONS, TRANSLATIONS)
