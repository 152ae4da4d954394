"""``pycompss.api``: decorators and synchronisation, mapped onto hpcflow."""
