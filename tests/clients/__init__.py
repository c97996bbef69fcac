"""Real client programs (Claude Code, ...) installed and driven by the test suite.

The gateway's promise is that the clients people actually use work against it; the only
convincing test of that runs the client itself. Each module here installs one pinned
client into a repo-local cache (``.cache/clients/``) on first use and runs it isolated
from the developer's own configuration.
"""
