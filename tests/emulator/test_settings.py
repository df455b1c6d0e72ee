"""Settings: defaults, YAML loading, validation, and the model registry they describe."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from emulator.registry import ModelRegistry
from emulator.settings import EmulatorSettings, ModelVersionSpec, RegisteredModelSpec, load_settings

YAML = """
update_seconds: 0.5
routing: round_robin
admin_token: emu-test-admin-token
tokens:
  dapi-deployer:
    principal: 11111111-2222-3333-4444-555555555555
    kind: service_principal
  dapi-ops:
    principal: ops@example.com
    groups: [admins]
models:
  main.demo.scorer:
    columns: [x, y]
    versions:
      1: {weights: {x: 2.0, y: -1.0}, bias: 0.5}
      2: {same_as: "1"}
      3:
"""


def test_defaults_are_small_durations_and_a_small_registry():
    settings = EmulatorSettings()

    assert (settings.update_seconds, settings.cold_start_seconds, settings.model_load_seconds) == (2.0, 3.0, 0.5)
    assert settings.max_request_bytes == 16 * 1024 * 1024
    assert {name: sorted(m.versions) for name, m in settings.models.items()} == {
        "main.risk.risk_classifier": ["1", "2", "3", "4"],
        "main.fraud.fraud_scorer": ["1", "2"],
        "main.recs.recommender": ["7"],
    }


def test_settings_load_from_yaml_with_keyword_overrides(tmp_path):
    path = tmp_path / "emulator.yaml"
    path.write_text(YAML)

    settings = load_settings(path, update_seconds=0.1)

    assert settings.update_seconds == 0.1
    assert settings.routing == "round_robin"
    assert settings.tokens["dapi-ops"].is_admin
    assert settings.tokens["dapi-deployer"].kind == "service_principal"
    assert sorted(settings.models["main.demo.scorer"].versions) == ["1", "2", "3"]


def test_explicit_weights_and_same_as_give_the_same_predictions(tmp_path):
    path = tmp_path / "emulator.yaml"
    path.write_text(YAML)
    registry = ModelRegistry(load_settings(path).models)

    rows = [{"x": 3, "y": 1}]

    assert registry.predict("main.demo.scorer", "1", rows) == [5.5]
    assert registry.predict("main.demo.scorer", "2", rows) == [5.5]
    assert registry.predict("main.demo.scorer", "3", rows) != [5.5]


def test_same_as_an_unregistered_version_is_rejected():
    with pytest.raises(ValidationError, match="same_as '9' is not a registered version"):
        RegisteredModelSpec(columns=("x",), versions={"1": ModelVersionSpec(same_as="9")})


def test_weights_must_name_exactly_the_columns():
    with pytest.raises(ValidationError, match="weights must name exactly the columns"):
        RegisteredModelSpec(columns=("x", "y"), versions={"1": ModelVersionSpec(weights={"x": 1.0})})


def test_model_names_must_have_three_parts():
    with pytest.raises(ValidationError, match=r"catalog\.schema\.model"):
        EmulatorSettings(models={"scorer": RegisteredModelSpec(columns=("x",))})


def test_unknown_setting_is_rejected():
    with pytest.raises(ValidationError):
        EmulatorSettings(update_secs=1)


def test_admin_token_must_not_be_a_workspace_token():
    with pytest.raises(ValidationError, match="admin_token must differ"):
        EmulatorSettings(admin_token="dapi-emulator-admin")


def test_oauth_clients_load_from_yaml_and_their_secrets_stay_out_of_the_repr(tmp_path):
    path = tmp_path / "emulator.yaml"
    path.write_text(
        "oauth_clients:\n  11111111-2222-3333-4444-555555555555:\n"
        "    client_secret: a-long-secret-value\n    groups: [ml-ops]\n",
        encoding="utf-8",
    )

    settings = load_settings(path)

    client = settings.oauth_clients["11111111-2222-3333-4444-555555555555"]
    assert client.principal("11111111-2222-3333-4444-555555555555").kind == "service_principal"
    assert client.groups == ("ml-ops",)
    assert "a-long-secret-value" not in repr(settings) + repr(client)


def test_an_oauth_client_cannot_be_a_user():
    with pytest.raises(ValidationError, match="oauth_clients are service principals"):
        EmulatorSettings(oauth_clients={"analyst@example.com": {"client_secret": "a-long-secret"}})


def test_per_minute_windows_default_to_a_minute():
    settings = EmulatorSettings()

    assert (settings.metrics_window_seconds, settings.rate_limit_period_seconds) == (60.0, 60.0)
