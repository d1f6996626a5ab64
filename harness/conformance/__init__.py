"""What the suites import besides the adapters' contracts: the lab vocabulary (:mod:`~harness.conformance.lab`),
the verdict taxonomy (:mod:`~harness.conformance.verdicts`) and the requirement catalogue
(:mod:`~harness.conformance.requirements`)."""
