"""paircert's conformance suites: one module per behaviour area, a TC id on every test."""
