"""Access beyond the default form (`access.grants`) and the stack's `policy` section, as the config model reads them.

The default form (`query_service_principal`, `manager_groups`) keeps its meaning; `grants` adds principals of
each kind at each serving-endpoint level, every problem reported with its key path before anything is declared.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import FindingLevel, PermissionLevel, PrincipalKind, StackConfigError, parse_stack_config
from tests.support import BASE, SP, problems_of, risk

SECOND_APP = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
DEPLOYER = "0f0e0d0c-0b0a-4998-8776-655443322110"


def with_grants(*grants: dict[str, Any]):
    def change(values: dict[str, Any]) -> None:
        risk(values)["access"]["grants"] = list(grants)

    return change


def parsed(change=lambda values: None, **kwargs: Any):
    values = copy.deepcopy(BASE)
    change(values)
    return parse_stack_config("prod", values, **kwargs)


def test_grants_of_each_kind_at_each_level_are_read_in_order():
    config = parsed(
        with_grants(
            {"service_principal": SECOND_APP.upper(), "level": "CAN_QUERY"},
            {"group": "fraud-analysts", "level": "CAN_VIEW"},
            {"user": "oncall@example.com", "level": "CAN_MANAGE"},
        )
    )
    assert [(grant.kind, grant.principal, grant.level) for grant in config.endpoints["risk"].access.grants] == [
        (PrincipalKind.SERVICE_PRINCIPAL, SECOND_APP, PermissionLevel.CAN_QUERY),
        (PrincipalKind.GROUP, "fraud-analysts", PermissionLevel.CAN_VIEW),
        (PrincipalKind.USER, "oncall@example.com", PermissionLevel.CAN_MANAGE),
    ]


def test_no_grants_is_the_default_form():
    assert parsed().endpoints["risk"].access.grants == []


def test_the_users_group_is_declarable_the_policy_pack_flags_it():
    config = parsed(with_grants({"group": "users", "level": "CAN_QUERY"}))
    assert config.endpoints["risk"].access.grants[0].principal == "users"


def test_an_unknown_level_is_refused_with_the_levels():
    assert problems_of(with_grants({"group": "fraud-analysts", "level": "CAN_USE"})) == [
        "endpoints.risk.access.grants[0].level = 'CAN_USE': Input should be 'CAN_VIEW', 'CAN_QUERY' or 'CAN_MANAGE'"
    ]


def test_a_grant_needs_a_level():
    assert problems_of(with_grants({"group": "fraud-analysts"})) == [
        "endpoints.risk.access.grants[0].level: is required"
    ]


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("service_principal", "the service principal's application id (a UUID)"),
        ("group", "a group's name"),
        ("user", "a user's e-mail address"),
    ],
)
def test_an_empty_principal_is_refused_naming_what_it_must_be(kind, what):
    assert problems_of(with_grants({kind: " ", "level": "CAN_VIEW"})) == [
        f"endpoints.risk.access.grants[0].{kind} = ' ': must not be empty: {what}"
    ]


def test_a_service_principal_is_named_by_its_application_id():
    assert problems_of(with_grants({"service_principal": "loan-decision-api", "level": "CAN_QUERY"})) == [
        "endpoints.risk.access.grants[0].service_principal = 'loan-decision-api': "
        "must be the service principal's application id (a UUID), not its display name"
    ]


def test_a_user_is_named_by_an_e_mail_address():
    assert problems_of(with_grants({"user": "oncall", "level": "CAN_VIEW"})) == [
        "endpoints.risk.access.grants[0].user = 'oncall': must be the user's e-mail address (their workspace user name)"
    ]


def test_the_admins_group_is_refused_as_the_permissions_api_refuses_it():
    (problem,) = problems_of(with_grants({"group": "admins", "level": "CAN_MANAGE"}))
    assert problem.startswith(
        "endpoints.risk.access.grants[0].group = 'admins': `admins` cannot be granted on a serving endpoint"
    )


@pytest.mark.parametrize(
    ("grant", "found"),
    [
        ({"level": "CAN_VIEW"}, "found none"),
        ({"group": "fraud-analysts", "user": "ana@example.com", "level": "CAN_VIEW"}, "found group, user"),
    ],
)
def test_a_grant_names_exactly_one_principal(grant, found):
    assert problems_of(with_grants(grant)) == [
        f"endpoints.risk.access.grants[0]: name exactly one principal: service_principal, group or user ({found})"
    ]


def test_the_query_principal_declared_again_at_another_level_is_refused():
    assert problems_of(with_grants({"service_principal": SP.upper(), "level": "CAN_MANAGE"})) == [
        f"endpoints.risk.access.grants[0]: service principal `{SP.upper()}` is declared at CAN_MANAGE, and at "
        "CAN_QUERY by access.query_service_principal; a principal holds one level (Databricks keeps the "
        "highest): declare it once, at the level it needs"
    ]


def test_a_manager_group_declared_again_as_a_grant_is_refused():
    (problem,) = problems_of(with_grants({"group": "ml-platform-oncall", "level": "CAN_VIEW"}))
    assert problem.startswith(
        "endpoints.risk.access.grants[0]: group `ml-platform-oncall` is declared at CAN_VIEW, and at CAN_MANAGE by "
        "access.manager_groups[0];"
    )


def test_a_user_granted_twice_whatever_the_case_of_the_address_is_refused_at_the_second():
    (problem,) = problems_of(
        with_grants({"user": "ana@example.com", "level": "CAN_VIEW"}, {"user": "Ana@Example.com", "level": "CAN_VIEW"})
    )
    assert problem.startswith(
        "endpoints.risk.access.grants[1]: user `Ana@Example.com` is declared again by access.grants[0];"
    )


def test_the_deploying_service_principal_gets_no_grant():
    with pytest.raises(StackConfigError) as caught:
        parsed(with_grants({"service_principal": DEPLOYER, "level": "CAN_VIEW"}), deployer=DEPLOYER.upper())
    (problem,) = caught.value.problems
    assert problem.startswith(
        f"endpoints.risk.access.grants[0].service_principal = '{DEPLOYER}': is the service principal that deploys "
        "this stack (databricks:clientId); it keeps CAN_MANAGE"
    )


def test_the_deploying_service_principal_is_not_the_query_principal_either():
    with pytest.raises(StackConfigError) as caught:
        parsed(deployer=SP)
    (problem,) = caught.value.problems
    assert problem.startswith(f"endpoints.risk.access.query_service_principal = '{SP}': is the service principal ")


def test_without_a_known_deployer_any_application_id_may_be_granted():
    config = parsed(with_grants({"service_principal": DEPLOYER, "level": "CAN_VIEW"}))
    assert config.endpoints["risk"].access.grants[0].principal == DEPLOYER


# --- the policy section ----------------------------------------------------------------------------------


def test_the_policy_section_is_strict_by_default():
    policy = parsed().policy
    assert (policy.grants_beyond_default, policy.workspace_wide_grants) == (
        FindingLevel.MANDATORY,
        FindingLevel.MANDATORY,
    )


def test_the_policy_section_may_make_grants_beyond_the_default_advisory():
    config = parsed(lambda values: values.update(policy={"grants_beyond_default": "advisory"}))
    assert (config.policy.grants_beyond_default, config.policy.workspace_wide_grants) == (
        FindingLevel.ADVISORY,
        FindingLevel.MANDATORY,
    )


def test_a_policy_level_other_than_advisory_or_mandatory_is_refused():
    assert problems_of(lambda values: values.update(policy={"workspace_wide_grants": "disabled"})) == [
        "policy.workspace_wide_grants = 'disabled': Input should be 'advisory' or 'mandatory'"
    ]


def test_a_misspelt_policy_key_is_refused_with_the_nearest_key():
    assert problems_of(lambda values: values.update(policy={"grants_beyond_defaults": "advisory"})) == [
        "policy.grants_beyond_defaults: unknown key; did you mean `grants_beyond_default`? "
        "(see the config reference in README.md)"
    ]
