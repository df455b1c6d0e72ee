"""Emergency rollback: `python -m rollback STACK ENDPOINT [--to ENTITY]` (README: "Emergency rollback")."""
