"""`python -m relay_client`: the terminal chat (relay_client.chat)."""

from relay_client.chat import main

raise SystemExit(main())
