"""``python -m zeronvs_core`` runs the ``zeronvs`` command."""

from .cli import main

raise SystemExit(main())
