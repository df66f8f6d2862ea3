"""Vulnerable/secure pairs validated in the real sandbox: security test and functional test on both twins."""

from __future__ import annotations

import pytest

from bluecodeagent.code.scanner import default_sandbox
from bluecodeagent.errors import SandboxUnavailable
from bluecodeagent.redteam.vulnchecks import security_test
from bluecodeagent.redteam.vulns import sandbox_validate, validated_items, vulnerable_pairs


@pytest.fixture(scope="module")
def sandbox():
    try:
        return default_sandbox()
    except SandboxUnavailable as e:
        pytest.skip(f"no sandbox here: {e}")


@pytest.mark.parametrize("cwe", ["CWE-22", "CWE-89", "CWE-327", "CWE-862", "CWE-915"])
def test_pairs_validate_for_probe_and_check_cwes(sandbox, cwe: str) -> None:
    items = vulnerable_pairs([cwe], per_cwe=2)
    results = sandbox_validate(items, sandbox, jobs=1)
    assert len(results) == 2
    for _bad, _good, chk in results:
        assert chk.ok, chk
        assert chk.vulnerable_security == "vulnerable" and chk.security_test == security_test(cwe).name
        assert chk.vulnerable_functional and chk.secure_functional
    kept = validated_items(results, "t-pairs")
    assert len(kept) == 4 and {it.label for it in kept} == {"vulnerable", "safe"}
    assert all(it.batch == "t-pairs" and it.provenance["validated"] == "sandbox" for it in kept)


def test_a_secure_twin_that_is_vulnerable_is_rejected(sandbox) -> None:
    bad, good = vulnerable_pairs(["CWE-22"], per_cwe=1)
    fake = good.model_copy(update={"text": bad.text})  # "secure" version with the same traversal bug
    results = sandbox_validate([bad, fake], sandbox, jobs=1)
    (_, _, chk) = results[0]
    assert chk.secure_security == "vulnerable" and not chk.ok
    assert validated_items(results, "t") == []


def test_weak_hash_secure_twin_must_not_use_md5(sandbox) -> None:
    bad, good = vulnerable_pairs(["CWE-327"], per_cwe=1)
    broken = good.model_copy(update={"text": good.text.replace("sha256", "sha1")})
    (_, _, chk) = sandbox_validate([bad, broken], sandbox, jobs=1)[0]
    assert chk.vulnerable_security == "vulnerable" and chk.secure_security == "vulnerable" and not chk.ok


def test_cwe_without_a_security_test_is_not_validated(sandbox) -> None:
    items = vulnerable_pairs(["CWE-367"], per_cwe=1)
    (_, _, chk) = sandbox_validate(items, sandbox, jobs=1)[0]
    assert not chk.ok and chk.security_test is None and "no security test" in chk.why
