"""Accounts and authentication: tokens, passwords (argon2id + legacy Firebase scrypt), guards, routes."""
