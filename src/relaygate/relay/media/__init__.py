"""The media routes: images (generations, edits) and audio (speech, transcriptions,
translations), relayed to OpenAI-compatible channels and billed by their own units.

Nothing is imported here: the built-in echo provider reads uploads with
:mod:`relaygate.relay.media.forms`, which must stay pure (no billing, no database), while
:mod:`relaygate.relay.media.handler` is the pipeline and imports the rest of the relay.
docs/media.md describes the routes.
"""
