"""Operations: what tells an operator what the server does (access log, audit stream, JSON logs,
health checks, Prometheus metrics) and what keeps a data directory safe (the serve lock, backup)."""
