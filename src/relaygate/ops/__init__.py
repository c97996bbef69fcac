"""What an operator watches: Prometheus metrics, structured logs (docs/observability.md)."""
