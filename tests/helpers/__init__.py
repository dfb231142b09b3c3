"""What tests share besides fixtures (those live in ``tests/conftest.py``).

- ``api``: the app under test as tests drive it (``Api``), job bodies, creating and triggering
  jobs, waiting for runs and for conditions.
- ``servers``: scripted HTTP servers on loopback standing in for agents, Slack and LLM endpoints.
- ``mail``: an SMTP server on loopback keeping every message (aiosmtpd).
- ``embeddings``: an OpenAI-compatible embeddings API whose vectors count keywords.
- ``served``: the real app served by uvicorn on a loopback port.
- ``processes``: free ports, the ``agent-scheduler`` command, worker processes.
- ``dev``: ``agent-scheduler dev`` on free ports, ready, for tests that run the whole thing.
- ``databases``: a PostgreSQL database of a test's own.
- ``evaluator``: the schedule evaluator compared with a live Temporal schedule.
- ``histories``: where recorded workflow histories live.
- ``nl_corpus``: phrasings and the schedules they mean (tests and ``bench/parse_nl.py``).

A test module imports from here, never from another test module.
"""
