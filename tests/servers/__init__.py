"""Real servers the tests start for themselves: in a temporary folder, on a loopback port.

Each module starts one kind of server (``postgres``), stops it after, and fails loudly
with what to install or fix when it cannot start: tests that need it never skip silently.
"""
