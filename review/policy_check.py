"""The policy pack's rules, run on what the program declared under the mock engine.

The same functions as `pulumi preview --policy-pack policy` (`policy.rules`); here each
`review.engine.DeclaredResource` is adapted to the rules' `Resource` (its inputs, secrets unwrapped so a
rule can judge them, unknowns as `UNKNOWN`), and every message is masked for the secrets of the run
before anyone sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc

from policy.rules import (
    UNKNOWN,
    Enforcement,
    Finding,
    PolicyConfigError,
    Resource,
    Verdict,
    evaluate,
    stack_policy_from_config,
)
from review.engine import DeclaredResource, ProgramRun, is_secret
from review.summary import SECRET


def _plain(value: Any) -> Any:
    """`value` with secrets unwrapped and the engine's unknown marker replaced by the rules' `UNKNOWN`."""
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str) and value == rpc.UNKNOWN:
        return UNKNOWN
    return value


def resource_from_declared(resource: DeclaredResource) -> Resource:
    """A resource the program declared, as the rules see it (its inputs, as the pack's resource rules do)."""
    return Resource(
        type=resource.type, name=resource.name, urn=resource.urn, parent=resource.parent, props=_plain(resource.inputs)
    )


MIN_MASKED_LENGTH = 4
"""Shorter secret texts (a flag, a digit) are not masked: replacing them would garble every message."""


def secret_values(resources: Iterable[DeclaredResource]) -> set[str]:
    """Every text held in a secret anywhere in the resources' inputs."""
    found: set[str] = set()

    def collect(value: Any, inside_secret: bool) -> None:
        if is_secret(value):
            collect(rpc.unwrap_rpc_secret(value), True)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item, inside_secret)
        elif isinstance(value, list):
            for item in value:
                collect(item, inside_secret)
        elif inside_secret and isinstance(value, str) and len(value) >= MIN_MASKED_LENGTH and value != SECRET:
            found.add(value)

    for resource in resources:
        collect(resource.inputs, False)
    return found


def mask(message: str, secrets: Iterable[str]) -> str:
    """`message` with every secret text replaced by `[secret]`, longest first (one may contain another)."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, SECRET)
    return message


def check_run(run: ProgramRun, pack_config: Mapping[str, Any] | None = None) -> list[Verdict]:
    """Every rule's verdict on what `run` declared, messages masked for the run's secrets.

    The stack's `policy` section (in its config) sets how grants beyond the secure default are reported.
    Rules never quote a value they judge as a credential; masking guarantees that nothing else that was a
    secret (a principal, a tag) reaches the output either.
    """
    resources = [resource_from_declared(resource) for resource in run.resources]
    # The stack file's own `policy` section says how broad grants count, as it does for the pack.
    verdicts = evaluate(resources, run.stack, pack_config, stack_policy_from_config(run.config))
    secrets = secret_values(run.resources)
    if not secrets:
        return verdicts
    return [
        Verdict(
            verdict.rule,
            verdict.enforcement,
            tuple(
                Finding(finding.resource, finding.urn, mask(finding.message, secrets)) for finding in verdict.findings
            ),
        )
        for verdict in verdicts
    ]


def load_policy_config(path: Path) -> dict[str, Any]:
    """A policy config file, the same JSON file `pulumi preview --policy-pack-config` takes."""
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise PolicyConfigError(f"{path}: {error}") from None
    if not isinstance(config, dict):
        raise PolicyConfigError(f"{path}: must hold a JSON object, rule name -> settings")
    return config


def mandatory_violations(verdicts: Iterable[Verdict]) -> int:
    """How many violations fail the review (exit status 1)."""
    return sum(len(verdict.findings) for verdict in verdicts if verdict.enforcement is Enforcement.MANDATORY)


def advisory_violations(verdicts: Iterable[Verdict]) -> int:
    """How many violations are only shown."""
    return sum(len(verdict.findings) for verdict in verdicts if verdict.enforcement is Enforcement.ADVISORY)


def render_verdicts(verdicts: list[Verdict]) -> str:
    """One line per rule (`ok`, `FAIL` for mandatory, `warn` for advisory), then its violations."""
    mandatory, advisory = mandatory_violations(verdicts), advisory_violations(verdicts)
    lines = [
        f"Policy ({len(verdicts)} rules): {mandatory} mandatory violation{'s' if mandatory != 1 else ''}, "
        f"{advisory} advisory"
    ]
    for verdict in verdicts:
        if verdict.enforcement is Enforcement.DISABLED:
            status = "off "
        elif verdict.passed:
            status = "ok  "
        else:
            status = "FAIL" if verdict.enforcement is Enforcement.MANDATORY else "warn"
        lines.append(f"  {status}  {verdict.rule.name} [{verdict.enforcement}]")
        for finding in verdict.findings:
            lines.append(f"          {finding.message}")
    return "\n".join(lines)


def verdicts_json(verdicts: list[Verdict]) -> dict[str, Any]:
    """The verdicts for machines: counts, then each rule with its violations."""
    return {
        "mandatory_violations": mandatory_violations(verdicts),
        "advisory_violations": advisory_violations(verdicts),
        "rules": [
            {
                "name": verdict.rule.name,
                "description": verdict.rule.description,
                "enforcement": str(verdict.enforcement),
                "passed": verdict.passed,
                "violations": [
                    {"resource": finding.resource, "urn": finding.urn, "message": finding.message}
                    for finding in verdict.findings
                ],
            }
            for verdict in verdicts
        ],
    }
