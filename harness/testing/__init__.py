"""What paircert offers a vendor's own tests: public Hypothesis strategies (:mod:`~harness.testing.strategies`)
and the stateful pairing and binding model (:mod:`~harness.testing.stateful`)."""
