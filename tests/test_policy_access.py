"""Grants beyond the secure default access: every one flagged, mandatory or advisory as the stack's `policy` says.

The secure default is one service principal with CAN_QUERY and groups with CAN_MANAGE. Anything else a
serving endpoint's Permissions grant is reported, naming the principal, the stack-file key that declares it
and the policy setting that would accept it; the review and the pack read that setting from the stack's config.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from components.config import FindingLevel, PolicySettings
from policy.pack import policies
from policy.rules import (
    STACK_POLICY_KEY,
    Breadth,
    Enforcement,
    Options,
    broad_grants,
    check_endpoint_access,
    check_endpoint_access_advisory,
    evaluate,
    stack_policy_from_config,
)
from review.engine import PROJECT_DIR
from tests.support import (
    RISK_QUERY_PRINCIPAL,
    group,
    permissions,
    reported,
    service_principal,
    user,
    validation_args,
    verdict_of,
)

SECOND_APP = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
LENIENT = Options(stack_policy=PolicySettings(grants_beyond_default=FindingLevel.ADVISORY))
SUBJECT = "Permissions risk-permissions (serving endpoint)"


def second_app(level: str) -> dict[str, str]:
    return {"servicePrincipalName": SECOND_APP, "permissionLevel": level}


def test_the_secure_default_has_nothing_to_flag():
    resource = permissions(service_principal(), group("ml-platform-oncall"), group("fraud-analytics"))
    assert broad_grants(resource, Options()) == []


@pytest.mark.parametrize(
    ("grant", "what"),
    [
        (second_app("CAN_QUERY"), f"grants CAN_QUERY to service principal `{SECOND_APP}`; another query principal"),
        (
            second_app("CAN_VIEW"),
            f"grants CAN_VIEW to service principal `{SECOND_APP}`; the secure default gives "
            "service principals CAN_QUERY only",
        ),
        (
            second_app("CAN_MANAGE"),
            f"grants CAN_MANAGE to service principal `{SECOND_APP}`; the secure default "
            "gives service principals CAN_QUERY only (management is a group's)",
        ),
        (
            group("fraud-analysts", "CAN_QUERY"),
            "grants CAN_QUERY to group `fraud-analysts`; the secure default gives groups CAN_MANAGE only",
        ),
        (group("ml-support", "CAN_VIEW"), "grants CAN_VIEW to group `ml-support`;"),
        (
            user("oncall@example.com", "CAN_VIEW"),
            "grants CAN_VIEW to user `oncall@example.com`; the secure default grants nothing to a person",
        ),
        (user("ana@example.com", "CAN_MANAGE"), "grants CAN_MANAGE to user `ana@example.com`;"),
    ],
)
def test_each_grant_beyond_the_default_is_flagged_naming_the_principal(grant, what):
    (found,) = broad_grants(permissions(service_principal(), grant), Options())
    assert found.breadth is Breadth.BEYOND_DEFAULT
    assert found.message.startswith(f"{SUBJECT}: {what}")


def test_the_query_principal_is_the_first_service_principal_with_can_query():
    (found,) = broad_grants(permissions(second_app("CAN_QUERY"), service_principal()), Options())
    assert f"service principal `{RISK_QUERY_PRINCIPAL}`; another query principal" in found.message


@pytest.mark.parametrize("everybody", ["users", "account users"])
def test_a_workspace_wide_group_at_any_level_is_its_own_kind_of_breadth(everybody):
    (found,) = broad_grants(permissions(service_principal(), group(everybody, "CAN_VIEW")), Options())
    assert (found.breadth, found.message.split(";")[0]) == (
        Breadth.WORKSPACE_WIDE,
        f"{SUBJECT}: grants CAN_VIEW to `{everybody}`, a workspace-wide group: everybody in the workspace",
    )


def test_a_strict_stack_makes_every_broad_grant_mandatory_with_the_fix_and_the_setting():
    resource = permissions(service_principal(), group("ml-support", "CAN_VIEW"))
    assert check_endpoint_access_advisory(resource, Options()) == []
    assert check_endpoint_access(resource, Options()) == [
        f"{SUBJECT}: grants CAN_VIEW to group `ml-support`; the secure default gives groups CAN_MANAGE only and "
        "query access to one service principal; remove it from `endpoints.risk.access.grants`, or accept it on "
        "this stack with `policy.grants_beyond_default: advisory` in the stack file (it stays flagged in every "
        "review)"
    ]


def test_a_lenient_stack_shows_grants_beyond_the_default_as_advisory():
    resource = permissions(service_principal(), group("ml-support", "CAN_VIEW"))
    assert check_endpoint_access(resource, LENIENT) == []
    assert check_endpoint_access_advisory(resource, LENIENT) == [
        f"{SUBJECT}: grants CAN_VIEW to group `ml-support`; the secure default gives groups CAN_MANAGE only and "
        "query access to one service principal; accepted on this stack by `policy.grants_beyond_default: "
        "advisory`, declared in `endpoints.risk.access.grants`"
    ]


def test_leniency_for_grants_beyond_the_default_does_not_extend_to_users():
    resource = permissions(service_principal(), group("users", "CAN_QUERY"))
    assert len(check_endpoint_access(resource, LENIENT)) == 1
    assert check_endpoint_access_advisory(resource, LENIENT) == []


def test_users_is_advisory_only_when_the_stack_says_so_for_workspace_wide_grants():
    options = Options(stack_policy=PolicySettings(workspace_wide_grants=FindingLevel.ADVISORY))
    resource = permissions(service_principal(), group("users", "CAN_QUERY"))
    assert check_endpoint_access(resource, options) == []
    (message,) = check_endpoint_access_advisory(resource, options)
    assert "accepted on this stack by `policy.workspace_wide_grants: advisory`" in message


def test_a_grant_to_admins_is_mandatory_whatever_the_stack_says():
    everything_advisory = Options(
        stack_policy=PolicySettings(
            grants_beyond_default=FindingLevel.ADVISORY, workspace_wide_grants=FindingLevel.ADVISORY
        )
    )
    (message,) = check_endpoint_access(permissions(service_principal(), group("admins")), everything_advisory)
    assert "the permissions API refuses to change the admins' permissions" in message


def test_a_stack_policy_is_read_from_the_config_the_engine_hands_over():
    config = {STACK_POLICY_KEY: json.dumps({"grants_beyond_default": "advisory"})}
    assert stack_policy_from_config(config) == PolicySettings(grants_beyond_default=FindingLevel.ADVISORY)


@pytest.mark.parametrize("raw", [None, "not json", json.dumps({"grants_beyond_default": "off"}), json.dumps([1])])
def test_a_missing_or_unreadable_stack_policy_is_strict(raw):
    config = {} if raw is None else {STACK_POLICY_KEY: raw}
    assert stack_policy_from_config(config) == PolicySettings()


def test_evaluate_moves_a_broad_grant_between_the_two_access_rules_by_the_stack_policy():
    resource = permissions(service_principal(), second_app("CAN_QUERY"))
    strict = evaluate([resource], "prod")
    lenient = evaluate([resource], "dev", stack_policy=LENIENT.stack_policy)
    counts = [
        (
            len(verdict_of("serving-endpoint-access", run).findings),
            len(verdict_of("serving-endpoint-access-advisory", run).findings),
        )
        for run in (strict, lenient)
    ]
    assert counts == [(1, 0), (0, 1)]


def test_a_policy_pack_config_can_still_make_accepted_grants_fail():
    resource = permissions(service_principal(), second_app("CAN_QUERY"))
    verdicts = evaluate([resource], "dev", {"serving-endpoint-access-advisory": "mandatory"}, LENIENT.stack_policy)
    verdict = verdict_of("serving-endpoint-access-advisory", verdicts)
    assert (verdict.enforcement, len(verdict.findings)) == (Enforcement.MANDATORY, 1)


def test_the_pack_reads_the_stack_policy_from_the_stack_config_the_cli_passes(monkeypatch):
    args = validation_args(permissions(service_principal(), second_app("CAN_VIEW")))
    by_name = {policy.name: policy for policy in policies(lambda: "dev")}
    lenient = json.dumps({"grants_beyond_default": "advisory"})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({STACK_POLICY_KEY: lenient}))
    assert (
        len(reported(by_name["serving-endpoint-access"], args)),
        len(reported(by_name["serving-endpoint-access-advisory"], args)),
    ) == (0, 1)
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    assert (
        len(reported(by_name["serving-endpoint-access"], args)),
        len(reported(by_name["serving-endpoint-access-advisory"], args)),
    ) == (1, 0)


@pytest.mark.slow
def test_the_pack_process_judges_grants_by_the_stack_config_in_its_environment():
    """Started as the CLI starts it, with the stack's config in PULUMI_CONFIG as the CLI's constructEnv puts it."""
    import grpc
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    stack_config = {STACK_POLICY_KEY: json.dumps({"grants_beyond_default": "advisory"})}
    environment.update(
        PULUMI_STACK="dev",
        PULUMI_PROJECT="databricks-serving",
        PULUMI_DRY_RUN="true",
        PULUMI_CONFIG=json.dumps(stack_config),
    )
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=PROJECT_DIR / "policy",
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = process.stdout.readline().strip()  # type: ignore[union-attr]
        assert port.isdigit(), process.stderr.read()  # type: ignore[union-attr]
        analyzer = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        resource = permissions(service_principal(), group("ml-support", "CAN_VIEW"), group("users", "CAN_VIEW"))
        properties = struct_pb2.Struct()
        properties.update(dict(resource.props))
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=properties,
            options=analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent),
        )
        diagnostics = analyzer.Analyze(request).diagnostics
        found = sorted(
            (d.policyName, d.enforcementLevel, d.message.splitlines()[-1].split(";")[0]) for d in diagnostics
        )
        assert found == [
            (
                "serving-endpoint-access",
                analyzer_pb2.MANDATORY,
                f"{SUBJECT}: grants CAN_VIEW to `users`, a workspace-wide group: everybody in the workspace",
            ),
            (
                "serving-endpoint-access-advisory",
                analyzer_pb2.ADVISORY,
                f"{SUBJECT}: grants CAN_VIEW to group `ml-support`",
            ),
        ]
    finally:
        process.terminate()
        process.communicate(timeout=10)
