"""Only the optional dependencies are computed here (the rest is in pyproject.toml).

``pip install '.[pycompss-compat]'`` from a checkout installs the PyCOMPSs shim, the
separate distribution ``hpcflow-pycompss-compat`` in ``compat/pycompss``, through a
direct reference to that directory (pip builds a local project in place, so the path is
the checkout's). An extra can only name other distributions, and the shim must stay a
separate one so that a plain ``pip install hpcflow`` never shadows a real PyCOMPSs.
Without the directory (e.g. a wheel built for an index, which refuses direct references),
the extra names the distribution only.
"""

from pathlib import Path

from setuptools import setup

SHIM = Path(__file__).resolve().parent / "compat" / "pycompss"
COMPAT = f"hpcflow-pycompss-compat @ {SHIM.as_uri()}" if (SHIM / "pyproject.toml").is_file() \
    else "hpcflow-pycompss-compat"

setup(extras_require={
    "mpi": ["mpi4py>=4.0"],
    "slurm": [],
    "examples": ["numpy>=1.24"],
    "test": ["pytest>=7", "pytest-timeout>=2", "numpy>=1.24", "ruff>=0.4"],
    "bench": ["dask[distributed]>=2024.1", "parsl>=2024.1.1", "numpy>=1.24", "mpi4py>=4.0",
              "mpich>=4.1"],
    "pycompss-compat": [COMPAT],
})
