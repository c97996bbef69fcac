"""Money in: top-up orders paid through a payment provider (Stripe first), credited to
the ledger exactly once when the provider's signed webhook says they were paid."""
