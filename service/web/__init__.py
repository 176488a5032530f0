"""Cross-cutting HTTP: errors, request ids, access logs, security headers, health, readiness."""
