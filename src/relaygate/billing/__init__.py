"""Metering and money: usage records now; prices, ledger and holds build on them."""
