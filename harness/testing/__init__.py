"""What paircert offers a vendor's own tests: public Hypothesis strategies (:mod:`~harness.testing.strategies`),
the stateful pairing and binding model (:mod:`~harness.testing.stateful`), and contract-test base classes to
subclass for one's own cloud or device adapter (:mod:`~harness.testing.contracts`)."""
