"""Performance measurements. ``make bench`` runs ``python -m benchmarks``; nothing here is a test."""
