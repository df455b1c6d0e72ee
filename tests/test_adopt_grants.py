"""`python -m review import` and `access.grants`: every live direct grant beyond the secure default is declared
(each principal once, at its highest direct level), the written file is valid, and the policy pack's verdicts
on those grants, as the stack's `policy` section sets them, are reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.testing import EmulatorHandle
from review import adopt as adopt_module
from review.adopt import adopt_endpoint
from tests.support import QUERY_PRINCIPAL, adopt, create_by_hand, emulator_workspace

SECOND_APPLICATION = "c2b7e9f1-5a3d-4c8e-a6b4-7d9e0f1a2b3c"
DEPLOYER = "6a1f0c2e-0d4b-4c8e-9f3a-5b7d2e1c0a01"
SUPPORT_USER = "support@example.com"
LIVE_GRANTS = [
    {"service_principal_name": QUERY_PRINCIPAL, "permission_level": "CAN_QUERY"},
    {"service_principal_name": SECOND_APPLICATION, "permission_level": "CAN_QUERY"},
    {"group_name": "support", "permission_level": "CAN_VIEW"},
    {"user_name": SUPPORT_USER, "permission_level": "CAN_VIEW"},
    {"group_name": "users", "permission_level": "CAN_QUERY"},
]
DECLARED_GRANTS = [
    {"service_principal": SECOND_APPLICATION, "level": "CAN_QUERY"},
    {"group": "support", "level": "CAN_VIEW"},
    {"user": SUPPORT_USER, "level": "CAN_VIEW"},
    {"group": "users", "level": "CAN_QUERY"},
]


@pytest.fixture
def workspace(monkeypatch) -> Iterator[EmulatorHandle]:
    yield from emulator_workspace(monkeypatch)


def access_written(directory: Path, stack: str, key: str = "recommender") -> dict[str, Any]:
    written = yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text())
    return written["config"]["databricks-serving:endpoints"][key]["access"]


def access_verdicts(report: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Each access rule: (its enforcement, the principal named by each of its violations, in order)."""
    shown = {}
    for rule in report["policy"]["rules"]:
        if rule["name"] in ("serving-endpoint-access", "serving-endpoint-access-advisory"):
            named = [
                next(
                    principal
                    for principal in (SECOND_APPLICATION, "`support`", SUPPORT_USER, "`users`")
                    if principal in violation["message"]
                )
                for violation in rule["violations"]
            ]
            shown[rule["name"]] = (rule["enforcement"], named)
    return shown


# --- what the live grants become --------------------------------------------------------------------------


def test_every_grant_beyond_the_default_is_declared_under_grants_in_the_live_order(workspace, tmp_path):
    create_by_hand(workspace, "prod-recommender", LIVE_GRANTS)
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path), "--json")
    assert access_written(tmp_path, "prod") == {"query_service_principal": QUERY_PRINCIPAL, "grants": DECLARED_GRANTS}
    report = json.loads(out)
    assert report["problems"] == []  # the config model accepts the written file
    (endpoint,) = report["endpoints"]
    assert [finding for finding in endpoint["findings"] if finding["breaks_rules"]] == []
    assert status == 1


def test_grants_are_written_in_flow_style_one_line_each(workspace, tmp_path):
    create_by_hand(workspace, "prod-recommender", LIVE_GRANTS)
    adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path))
    text = (tmp_path / "Pulumi.prod.yaml").read_text()
    assert (
        "        grants:\n"
        f"          - {{service_principal: {SECOND_APPLICATION}, level: CAN_QUERY}}\n"
        "          - {group: support, level: CAN_VIEW}\n"
        f"          - {{user: {SUPPORT_USER}, level: CAN_VIEW}}\n"
        "          - {group: users, level: CAN_QUERY}\n"
    ) in text


def test_on_the_strict_prod_stack_each_declared_grant_is_a_mandatory_violation_and_exit_1(workspace, tmp_path):
    create_by_hand(workspace, "prod-recommender", LIVE_GRANTS)
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path), "--json")
    report = json.loads(out)
    assert access_verdicts(report) == {
        "serving-endpoint-access": ("mandatory", [SECOND_APPLICATION, "`support`", SUPPORT_USER, "`users`"]),
        "serving-endpoint-access-advisory": ("advisory", []),
    }
    assert report["policy"]["mandatory_violations"] == 4
    assert status == 1 and report["exit_code"] == 1


def test_on_the_lenient_dev_stack_grants_are_advisory_and_users_stays_mandatory(workspace, tmp_path):
    create_by_hand(workspace, "dev-recommender", LIVE_GRANTS)
    status, out, _ = adopt("--stack", "dev", "dev-recommender", "--output-dir", str(tmp_path), "--json")
    report = json.loads(out)
    assert access_written(tmp_path, "dev")["grants"] == DECLARED_GRANTS
    assert access_verdicts(report) == {
        "serving-endpoint-access": ("mandatory", ["`users`"]),
        "serving-endpoint-access-advisory": ("advisory", [SECOND_APPLICATION, "`support`", SUPPORT_USER]),
    }
    assert status == 1


def test_the_text_report_shows_the_access_verdicts(workspace, tmp_path):
    create_by_hand(workspace, "dev-recommender", LIVE_GRANTS)
    _, out, _ = adopt("--stack", "dev", "dev-recommender", "--output-dir", str(tmp_path))
    lines = out.splitlines()
    assert "  FAIL  serving-endpoint-access [mandatory]" in lines
    assert "  warn  serving-endpoint-access-advisory [advisory]" in lines
    assert any("`endpoints.recommender.access.grants`" in line for line in lines)


def test_importing_again_writes_the_same_file(workspace, tmp_path, monkeypatch):
    create_by_hand(workspace, "prod-recommender", LIVE_GRANTS)
    adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path / "first"))
    first = tmp_path / "first" / "Pulumi.prod.yaml"
    # The second import reads the first one's file as the stack's own.
    monkeypatch.setattr(adopt_module, "stack_file", lambda stack, project_dir: first)
    status, out, _ = adopt("--stack", "prod", "prod-recommender", "--output-dir", str(tmp_path / "again"))
    assert (tmp_path / "again" / "Pulumi.prod.yaml").read_text() == first.read_text()
    assert "as declared: the stack file's entry is kept as it is" in out
    assert status == 1


# --- which principal goes where (no workspace needed) ------------------------------------------------------


def live(*grants: tuple[str, str, str], inherited: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """A permissions GET: (API field, principal, level) each a direct grant; `inherited` one inherited grant."""
    entries = [
        {field: name, "all_permissions": [{"permission_level": level, "inherited": False}]}
        for field, name, level in grants
    ]
    if inherited:
        field, name, level = inherited
        entries.append({field: name, "all_permissions": [{"permission_level": level, "inherited": True}]})
    return {"access_control_list": entries}


def endpoint(creator: str | None = DEPLOYER) -> dict[str, Any]:
    return {
        "name": "prod-recommender",
        "id": "0123",
        "creator": creator,
        "config": {
            "served_entities": [
                {"entity_name": "main.recs.recommender", "entity_version": "7", "workload_size": "Small"}
            ]
        },
    }


def adopted_access(
    permissions: dict[str, Any], existing: dict[str, Any] | None = None, creator: str | None = DEPLOYER
) -> dict[str, Any]:
    return adopt_endpoint(endpoint(creator), permissions, "prod-", {}, existing, DEPLOYER).entry["access"]


def test_the_declared_query_principal_is_kept_while_it_still_holds_can_query():
    permissions = live(
        ("service_principal_name", SECOND_APPLICATION, "CAN_QUERY"),
        ("service_principal_name", QUERY_PRINCIPAL, "CAN_QUERY"),
    )
    existing = {"access": {"query_service_principal": QUERY_PRINCIPAL}}
    assert adopted_access(permissions, existing) == {
        "query_service_principal": QUERY_PRINCIPAL,
        "grants": [{"service_principal": SECOND_APPLICATION, "level": "CAN_QUERY"}],
    }


def test_without_a_declared_one_the_first_service_principal_with_can_query_is_the_query_principal():
    permissions = live(
        ("service_principal_name", SECOND_APPLICATION, "CAN_QUERY"),
        ("service_principal_name", QUERY_PRINCIPAL, "CAN_QUERY"),
    )
    assert adopted_access(permissions)["query_service_principal"] == SECOND_APPLICATION


def test_groups_with_can_manage_are_manager_groups_but_everybody_with_can_manage_is_a_grant():
    permissions = live(
        ("service_principal_name", QUERY_PRINCIPAL, "CAN_QUERY"),
        ("group_name", "ml-platform-oncall", "CAN_MANAGE"),
        ("group_name", "account users", "CAN_MANAGE"),
    )
    assert adopted_access(permissions) == {
        "query_service_principal": QUERY_PRINCIPAL,
        "manager_groups": ["ml-platform-oncall"],
        "grants": [{"group": "account users", "level": "CAN_MANAGE"}],
    }


def test_admins_inherited_grants_and_the_deployers_own_grant_are_never_declared():
    permissions = live(
        ("service_principal_name", QUERY_PRINCIPAL, "CAN_QUERY"),
        ("group_name", "admins", "CAN_MANAGE"),
        ("service_principal_name", DEPLOYER.upper(), "CAN_MANAGE"),
        inherited=("group_name", "support", "CAN_VIEW"),
    )
    assert adopted_access(permissions) == {"query_service_principal": QUERY_PRINCIPAL}


def test_a_service_principal_with_can_manage_is_a_grant_at_can_manage():
    permissions = live(
        ("service_principal_name", QUERY_PRINCIPAL, "CAN_QUERY"),
        ("service_principal_name", SECOND_APPLICATION, "CAN_MANAGE"),
    )
    assert adopted_access(permissions)["grants"] == [{"service_principal": SECOND_APPLICATION, "level": "CAN_MANAGE"}]


def test_a_principal_granted_twice_is_declared_once_at_its_highest_level():
    permissions = live(
        ("service_principal_name", QUERY_PRINCIPAL, "CAN_QUERY"),
        ("user_name", SUPPORT_USER, "CAN_VIEW"),
        ("user_name", SUPPORT_USER.upper(), "CAN_MANAGE"),
    )
    assert adopted_access(permissions, creator=None)["grants"] == [{"user": SUPPORT_USER, "level": "CAN_MANAGE"}]
