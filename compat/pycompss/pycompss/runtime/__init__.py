"""``pycompss.runtime``: only what applications import from it."""
