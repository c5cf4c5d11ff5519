"""DSSE envelopes (secure-systems-lab/dsse v1.0.0) signed with a samdops :class:`Signer`.

The signature covers the pre-authentication encoding (PAE)::

    "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

where LEN is the byte length as ASCII decimal. The envelope is JSON:
``{"payload": b64, "payloadType": type, "signatures": [{"keyid": id, "sig": b64}]}``.
"""

from __future__ import annotations

import base64
from typing import Any

from samdops.audit.signer import Signer, key_id_for, verify_signature
from samdops.errors import SignatureInvalid, VerificationError
from samdops.inputs import json_kind

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding of ``payload``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_envelope(payload: bytes, payload_type: str, signer: Signer) -> dict[str, Any]:
    """A DSSE envelope of ``payload`` with one signature by ``signer``."""
    signature = signer.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {"keyid": signer.key_id, "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }


def verify_envelope(envelope: Any, public_pem: bytes, *, payload_type: str) -> bytes:
    """Return the payload of ``envelope`` if a signature by ``public_pem`` verifies, else raise.

    1. The envelope has the expected payload type and base64 payload.
    2. One of its signatures names the key's id and verifies over the PAE.
    """
    if not isinstance(envelope, dict) or envelope.get("payloadType") != payload_type:
        got = envelope.get("payloadType") if isinstance(envelope, dict) else envelope
        shown = repr(got) if isinstance(got, str) and len(got) <= 80 else json_kind(got)
        raise VerificationError(f"not a DSSE envelope of type {payload_type} (got {shown})")
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [
            (str(s["keyid"]), base64.b64decode(s["sig"], validate=True))
            for s in envelope["signatures"]
        ]
    except (KeyError, TypeError, ValueError) as exc:  # binascii.Error is a ValueError
        raise VerificationError(f"malformed DSSE envelope: {type(exc).__name__}") from None
    key_id = key_id_for(public_pem)
    matching = [sig for kid, sig in signatures if kid == key_id]
    if not matching:
        raise SignatureInvalid(f"the DSSE envelope has no signature by key {key_id}")
    message = pae(payload_type, payload)
    for signature in matching:
        try:
            verify_signature(public_pem, message, signature)
        except SignatureInvalid:
            continue
        return payload
    raise SignatureInvalid(f"the DSSE signature by key {key_id} does not verify")
