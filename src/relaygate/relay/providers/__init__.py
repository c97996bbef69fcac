"""Upstreams: a provider is a dialect plus base URL, auth and quirks. Providers own no
HTTP client and no database: the shared client is handed to them."""
