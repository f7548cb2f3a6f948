"""Scale-out: one gateway process and N worker processes over Redis Streams and PostgreSQL.

``brandbot run`` (one process, SQLite) needs none of this. See docs/scaling.md for the
roles, who sends, sizing, what to monitor and how to add workers.
"""
