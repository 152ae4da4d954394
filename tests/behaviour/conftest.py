"""Shared fixtures of the behaviour tests."""

from __future__ import annotations

import os

import pytest

from hpcflow.runtime import context
from hpcflow.runtime.session import local_session


@pytest.fixture
def runtime():
    """A local runtime with 2 task processes on 2 cores, installed for the test."""
    session = local_session(os.path.dirname(__file__), workers=2, cpus=2)
    with context.installed(session.master):
        yield session.master
    session.close()
