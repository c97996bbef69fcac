"""The OAuth open API: third-party apps a user authorises to act on their account
(platform-api.md §5; docs/oauth.md)."""
