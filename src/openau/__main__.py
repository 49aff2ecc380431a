"""``python -m openau`` runs the command-line interface."""

from openau.cli import main

raise SystemExit(main())
