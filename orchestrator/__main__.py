"""``python -m orchestrator``: the ``groq-orch`` command line."""

from orchestrator._cli import main

raise SystemExit(main())
