"""Console pages, one module per family; each has ``register(router, console)``."""
