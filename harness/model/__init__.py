"""The reference model: pure rules for tokens, binding modes and activator outcomes (the oracle).

Imports only :mod:`harness.protocol` and the standard library; no I/O and no clock reads (``now`` is a
parameter). Suites and the stateful fuzzer compare what they observe with what these functions say; the
emulated cloud asks them for its decisions.
"""

from harness.model.binding import (
    BINDING_TABLE,
    CAMERA_CATEGORIES,
    Binding,
    BindingDecision,
    BindingMode,
    BindingModeNotAllowed,
    BindingRow,
    Claim,
    Relation,
    Reset,
    Role,
    decide_binding,
    product_binding_mode,
    relation_of,
)
from harness.model.errors import LICENCE_ERRORS, BindError, CloudError
from harness.model.licence import Licence
from harness.model.outcomes import (
    BIND_REFUSAL_CODES,
    OUTCOME_RULES,
    REFUSAL_CODES,
    ActivatorErrorCode,
    AttemptSummary,
    Outcome,
    OutcomeKind,
    bind_refusal_code,
    outcome_for,
    refusal_for,
)
from harness.model.token import (
    DEFAULT_TOKEN_TTL_S,
    TOKEN_ERRORS,
    TokenRecord,
    TokenVerdict,
    check_token,
    token_error,
)

__all__ = [
    "BINDING_TABLE", "BIND_REFUSAL_CODES", "CAMERA_CATEGORIES", "DEFAULT_TOKEN_TTL_S", "LICENCE_ERRORS",
    "OUTCOME_RULES", "REFUSAL_CODES", "TOKEN_ERRORS", "ActivatorErrorCode", "AttemptSummary", "BindError", "Binding",
    "BindingDecision", "BindingMode", "BindingModeNotAllowed", "BindingRow", "Claim", "CloudError", "Licence",
    "Outcome", "OutcomeKind", "Relation", "Reset", "Role", "TokenRecord", "TokenVerdict", "bind_refusal_code",
    "check_token", "decide_binding", "outcome_for", "product_binding_mode", "refusal_for", "relation_of",
    "token_error",
]
