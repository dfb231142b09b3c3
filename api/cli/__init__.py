"""The ``agent-scheduler`` command and the processes it runs, apart from the HTTP app.

- ``main``: the typer app (``dev``, ``api``, ``worker``, ``keys``) and ``main()``, the
  console-script entry point;
- ``jobs``: the ``agent-scheduler jobs …`` commands, an HTTP client of a running API;
- ``supervisor``: API, worker and dev server run in one process, started and stopped in order,
  bounded in time;
- ``devserver``: the embedded Temporal dev server behind ``agent-scheduler dev``.

The rest of ``api/`` never imports this package. It is the one part of ``api/`` that may load
worker code: the supervisor runs the worker in-process (tests/test_import_direction.py).
"""
