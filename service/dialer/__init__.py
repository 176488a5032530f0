"""The campaign dialer: a started campaign's contacts are called, paced, within calling hours, once per attempt.

See docs/dialer.md.
"""
