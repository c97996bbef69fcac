"""Upstream channels: where a model's calls go, with which credentials."""
