"""Shared helpers for brandbot's own tests (loopback TLS, recording hosts)."""
