"""What an operator watches: Prometheus metrics, JSON logs, request and charger ids on every line."""
