"""What the worker and the API exchange through Temporal: names, and the inputs and results.

Every workflow and activity takes one model and returns one (``runs``, ``agents``,
``conditions``, ``delivery``, ``chains``, ``tick``); ``names`` holds the names Temporal knows
them, their failure types and the task queue by. The API starts workflows by these names and
models, so it never imports a workflow or an activity module.

Running histories and existing schedules carry these payloads and names: a field may only be
added, with a default; a name never changes. ``tests/histories/`` holds recorded histories that
must replay.
"""
