"""``python -m api.cli``: the ``agent-scheduler`` command."""

from api.cli.main import main

main()
