"""Property tests of the core: random input never verifies, never raises, always lists every check."""

from __future__ import annotations

import copy
import json
from typing import Any

from anchor_forms import anchor_of, fields_of, repack, tamper, to_legacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verify_helpers import Batch

from registry.errors import RegistryError
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader
from registry.verify.result import CHECK_NAMES, Status

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _well_formed(res: Any) -> None:
    assert [c.name for c in res.checks] == list(CHECK_NAMES)
    assert res.verified is (res.status is Status.valid)
    assert all(c.message for c in res.checks)


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_invalid(raw: bytes) -> None:
    res = verify_credential(raw, None, VerifyConfig(trusted=frozenset()))
    _well_formed(res)
    assert res.status in (Status.invalid, Status.indeterminate)


def test_random_edits_of_a_real_credential_never_verify(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    base = batch.credentials[0]
    keys = [k for k in base if k != "proof"]
    proof_keys = list(anchor_of(base))  # the members of the DataIntegrityProof
    field_keys = list(fields_of(anchor_of(base)))  # the anchor fields packed in its proofValue

    @SETTINGS
    @given(where=st.sampled_from(["doc", "proof", "fields", "legacy"]), key=st.integers(0, 100), value=JSON)
    def run(where: str, key: int, value: Any) -> None:
        cred = copy.deepcopy(base) if where != "legacy" else to_legacy(base)
        if where in ("fields", "legacy"):
            name = field_keys[key % len(field_keys)]
            fields = fields_of(anchor_of(cred))
            if fields[name] == value:
                return
            try:
                tamper(cred, lambda f: f.__setitem__(name, value))
            except RegistryError:  # not representable in JCS (NaN, huge ints): written raw, refused
                repack(anchor_of(cred), {**fields, name: value}, jcs=False)
        else:
            target = cred if where == "doc" else anchor_of(cred)
            names = keys if where == "doc" else proof_keys
            name = names[key % len(names)]
            if target[name] == value:
                return
            target[name] = value
        res = verify_credential(json.dumps(cred, allow_nan=True).encode(), reader, config)
        _well_formed(res)
        assert res.status is not Status.valid, (where, name, value)

    run()
    assert verify_credential(base, reader, config).status is Status.valid
    assert verify_credential(to_legacy(base), reader, config).status is Status.valid
