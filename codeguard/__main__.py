from __future__ import annotations

from codeguard.cli import main

main()
