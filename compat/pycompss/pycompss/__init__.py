"""PyCOMPSs-compatible modules on top of hpcflow (no JVM, no COMPSs runtime).

Importable only when ``compat/pycompss`` is on ``sys.path``: ``hpcflow run --compat
pycompss app.py`` puts it there (and on ``PYTHONPATH`` for the task processes), or
``pip install '.[pycompss-compat]'`` (from an hpcflow checkout) or
``pip install ./compat/pycompss`` installs it. It never shadows a real PyCOMPSs unasked.
"""

__hpcflow_shim__ = True
__version__ = "0.1.0+hpcflow"
