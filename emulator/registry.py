"""The emulator's model registry, the invocation input formats, and the models' predictions.

A prediction is a weighted sum of a row's columns plus a bias. The weights come from the version's
settings, or from the version it is `same_as`, or else from a hash of (model, version): the same row
always gets the same prediction from the same version, and different versions disagree unless the
settings say otherwise. That is enough for a parity gate to compare two versions.
"""

from __future__ import annotations

import hashlib
import math
from numbers import Real
from typing import Any

from emulator import signature as mlflow_signature
from emulator.errors import bad_request
from emulator.settings import MODEL_NAME_PATTERN, ModelVersionSpec, RegisteredModelSpec

INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
# Fields a scoring request may carry besides its one input.
OPTIONAL_FIELDS = ("params", "client_request_id")

Row = dict[str, Any]


class ModelRegistry:
    def __init__(self, models: dict[str, RegisteredModelSpec]):
        # Copies, so versions registered at run time do not touch the settings object.
        self._models: dict[str, RegisteredModelSpec] = dict(models)

    def missing_reason(self, model: str, version: str) -> str | None:
        """Why (model, version) cannot be deployed, or None if it can."""
        spec = self._models.get(model)
        if spec is None:
            return f"Registered model '{model}' does not exist or you do not have access to it."
        if version not in spec.versions:
            return f"Model version '{version}' of '{model}' does not exist (registered: {sorted(spec.versions)})."
        return None

    def register_version(
        self, model: str, version: str, spec: ModelVersionSpec, columns: tuple[str, ...] | None = None
    ) -> None:
        """Add a version (and the model, given its columns) while the server runs."""
        if not MODEL_NAME_PATTERN.match(model):
            raise ValueError(f"model name '{model}' must be catalog.schema.model")
        current = self._models.get(model)
        if current is None:
            if not columns:
                raise ValueError(f"model '{model}' is not registered; give its columns")
            current = RegisteredModelSpec(columns=columns)
        self._models[model] = RegisteredModelSpec.model_validate(
            {"columns": current.columns, "versions": {**current.versions, version: spec}}
        )

    def columns(self, model: str) -> tuple[str, ...]:
        return self._models[model].columns

    def signature(self, model: str, version: str) -> dict[str, str] | None:
        """The version's MLflow signature (column -> type), or the model's; None: columns only."""
        spec = self._models[model]
        chosen = spec.versions[version].signature if version in spec.versions else None
        signature = chosen if chosen is not None else spec.signature
        # In the columns' order (a settings file's mapping may come sorted): MLflow names columns in schema order.
        return None if signature is None else {column: signature[column] for column in spec.columns}

    def predict(self, model: str, version: str, rows: list[Row]) -> list[float]:
        spec = self._models[model]
        signature = self.signature(model, version)
        if signature is None:
            _check_schema(spec.columns, rows)
        else:
            try:
                mlflow_signature.enforce(signature, rows)
            except mlflow_signature.SignatureError as error:
                raise mlflow_signature.refusal(signature, rows, error) from None
        weights, bias = self._weights(model, version)
        return [round(bias + sum(weights[c] * _number(row[c]) for c in spec.columns), 6) for row in rows]

    def _weights(self, model: str, version: str) -> tuple[dict[str, float], float]:
        spec = self._models[model]
        seen = set()
        while spec.versions[version].same_as is not None and version not in seen:
            seen.add(version)
            version = spec.versions[version].same_as  # type: ignore[assignment]
        chosen = spec.versions[version]
        if chosen.weights is not None:
            return dict(chosen.weights), chosen.bias
        return {c: _hashed_weight(model, version, c) for c in spec.columns}, _hashed_weight(model, version, "")


def _hashed_weight(model: str, version: str, column: str) -> float:
    digest = hashlib.sha256(f"{model}|{version}|{column}".encode()).digest()
    return round(int.from_bytes(digest[:4], "big") / 2**32 * 2 - 1, 6)  # in [-1, 1)


def parse_rows(body: Any, columns: tuple[str, ...] | None = None) -> list[Row]:
    """The rows of a scoring request, whatever its format.

    Named formats give dicts. Positional rows (lists in `instances`/`inputs`) are named after the
    model's columns when they are known (`columns`); before routing they are kept as positional
    placeholders so the format can be checked before the entity, and so its schema, is chosen.
    """
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    present = [f for f in INPUT_FORMATS if f in body]
    if len(present) != 1:
        raise bad_request(
            f"The request must contain exactly one of the fields {list(INPUT_FORMATS)}; found {present or 'none'}."
        )
    extra = sorted(set(body) - set(INPUT_FORMATS) - set(OPTIONAL_FIELDS))
    if extra:
        raise bad_request(f"Unexpected fields in the request: {extra}. Only 'params' may accompany the input.")
    if "params" in body and not isinstance(body["params"], dict):
        raise bad_request("'params' must be a JSON object.")
    field = present[0]
    value = body[field]
    if field == "dataframe_split":
        return _from_split(value)
    if field == "dataframe_records":
        return _from_records(value, field)
    return _from_instances(value, field, columns)


def _from_split(value: Any) -> list[Row]:
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("columns"), list)
        or not isinstance(value.get("data"), list)
    ):
        raise bad_request("'dataframe_split' must be an object with 'columns' (list) and 'data' (list of rows).")
    columns = value["columns"]
    rows = []
    for i, row in enumerate(value["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise bad_request(f"dataframe_split row {i} has {_len(row)} values for {len(columns)} columns.")
        rows.append(dict(zip(columns, row, strict=True)))
    return _non_empty(rows, "dataframe_split")


def _from_records(value: Any, field: str) -> list[Row]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise bad_request(f"'{field}' must be a list of objects (one per row).")
    return _non_empty(list(value), field)


def _from_instances(value: Any, field: str, columns: tuple[str, ...] | None) -> list[Row]:
    if isinstance(value, dict):
        # Columnar form: {"col": [v1, v2], ...}.
        if not value or not all(isinstance(v, list) for v in value.values()):
            raise bad_request(f"'{field}' as an object must map each column to a list of values.")
        lengths = {len(v) for v in value.values()}
        if len(lengths) != 1:
            raise bad_request(f"'{field}': every column needs the same number of values.")
        count = lengths.pop()
        return _non_empty([{c: value[c][i] for c in value} for i in range(count)], field)
    if not isinstance(value, list):
        raise bad_request(f"'{field}' must be a list of rows or an object of columns.")
    rows: list[Row] = []
    for i, row in enumerate(value):
        if isinstance(row, dict):
            rows.append(row)
        elif isinstance(row, list):
            if columns is None:
                rows.append({f"#{j}": v for j, v in enumerate(row)})
            elif len(row) != len(columns):
                raise bad_request(f"{field} row {i} has {len(row)} values; the model expects {list(columns)}.")
            else:
                rows.append(dict(zip(columns, row, strict=True)))
        else:
            raise bad_request(f"{field} row {i} must be an object or a list.")
    return _non_empty(rows, field)


def _check_schema(columns: tuple[str, ...], rows: list[Row]) -> None:
    for i, row in enumerate(rows):
        missing = [c for c in columns if c not in row]
        extra = sorted(c for c in row if c not in columns)
        if missing or extra:
            message = f"Model is missing inputs {missing}." if missing else "Model input does not match its schema."
            if extra:
                message += f" Note that there were extra inputs: {extra}."
            raise bad_request(f"{message} (row {i}; expected columns {list(columns)})")
        for c in columns:
            value = row[c]
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
                raise bad_request(f"Column '{c}' of row {i} must be a finite number, got {value!r}.")


def _number(value: Any) -> float:
    """A value's part in the weighted sum: numbers and booleans count, text and gaps (typed columns) do not."""
    return float(value) if isinstance(value, Real) and math.isfinite(float(value)) else 0.0


def _non_empty(rows: list[Row], field: str) -> list[Row]:
    if not rows:
        raise bad_request(f"'{field}' holds no rows.")
    return rows


def _len(row: Any) -> int | str:
    return len(row) if isinstance(row, list) else "non-list"
