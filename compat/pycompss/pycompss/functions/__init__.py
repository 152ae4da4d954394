"""``pycompss.functions``: helpers built from tasks."""
