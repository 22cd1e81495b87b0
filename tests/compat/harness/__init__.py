"""Helpers behind the fixtures in tests/compat/conftest.py (server, OIDC provider, clients, stubs)."""
