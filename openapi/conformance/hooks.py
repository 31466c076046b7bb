"""Schemathesis hooks for the conformance run of scripts/test (see README, "API document").

Both hooks change how a generated request is written, never whether the document allows it,
so positive cases stay valid and negative cases stay invalid:

* JSON has one number type and JSON Schema counts 1616.0 as the integer 1616; the API reads
  amounts only from integer literals (a fraction or exponent is refused, 422). Integral floats
  in generated bodies are sent as integer literals.
* An Idempotency-Key names one request per merchant and operation; sending a used key with
  another body is a client error by design (422 idempotency_key_reused). Every valid generated
  key gets a unique suffix, keeping it valid (1 to 255 visible ASCII characters).
* A payment method token is a reference: the document states its form (`pm_` and lowercase
  letters, digits, `_`), the acquirer knows which tokens exist (422 payment_method_unknown
  otherwise). A well-formed generated token is replaced by a known one.
"""

import itertools
import re

import schemathesis

_VALID_KEY = re.compile(r"[!-~]{1,255}")
_SUFFIX_CHARS = 16
_counter = itertools.count()
_WELL_FORMED_TOKEN = re.compile(r"pm_[a-z0-9_]*")
_KNOWN_TOKENS = ("pm_card_visa", "pm_card_mastercard", "pm_card_amex", "pm_card_declined")


def _integral_floats_as_integers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_integers(item) for item in value]
    return value


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if isinstance(case.body, (dict, list, float)):
        case.body = _integral_floats_as_integers(case.body)
    if isinstance(case.body, dict):
        token = case.body.get("payment_method")
        if isinstance(token, str) and _WELL_FORMED_TOKEN.fullmatch(token) and len(token) <= 100:
            if token not in _KNOWN_TOKENS:
                case.body["payment_method"] = _KNOWN_TOKENS[len(token) % len(_KNOWN_TOKENS)]
    headers = case.headers or {}
    for name, key in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(key, str) and _VALID_KEY.fullmatch(key):
            suffix = f".{next(_counter):0{_SUFFIX_CHARS - 1}d}"
            headers[name] = key[: 255 - len(suffix)] + suffix
