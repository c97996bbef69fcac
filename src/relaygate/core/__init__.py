"""Leaf helpers shared by every capability: ids, clock, errors. Imports nothing from relaygate."""
