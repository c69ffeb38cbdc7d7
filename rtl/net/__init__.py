"""Links, packet layouts, arbiter, router."""
