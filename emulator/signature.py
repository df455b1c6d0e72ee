"""A model signature enforced on a scoring request's rows, with MLflow's rules and words.

Read in mlflow/mlflow (`mlflow/models/utils.py`: `_enforce_schema`, `_enforce_named_col_schema`,
`_enforce_mlflow_datatype`; `mlflow/pyfunc/__init__.py`: `_validate_prediction_input`;
`mlflow/pyfunc/scoring_server/__init__.py`: `invocations`):

- Required columns that the input lacks: "Model is missing inputs ['age']." plus, when the input has
  columns the signature does not name, " Note that there were extra inputs: ['zip']". Extra columns are
  otherwise ignored.
- A column's values have the dtype pandas gives them (JSON integers int64, a float or a missing value
  among them float64, booleans bool, text object); the allowed conversions are int -> long (an upcast
  within a kind), float -> double, int -> double only from ints of at most 6 bytes (so never from
  int64), text -> string; anything else is "Incompatible input types for column age. Can not safely
  convert float64 to int64." (with MLflow's hint when a float column holds whole numbers and gaps).
- `pyfunc.predict` wraps the failure as INVALID_PARAMETER_VALUE "Failed to enforce schema of data '...'
  with schema '...'. Error: ...", the scoring server prefixes "Failed to predict data '...'. \\nError: ",
  and the answer is HTTP 400 (a Databricks endpoint answers the same body, as users report it).

One difference, on purpose: MLflow's JSON scoring server casts `dataframe_split`/`dataframe_records`
columns (and `instances`/`inputs` values) to the signature's types before `predict` enforces it
(`mlflow/utils/proto_json_utils.py` `cast_df_types_according_to_schema`, `convert_data_type`), so a stock
MLflow server accepts `42.0` for a `long` column, and truncates `42.5` to 42. The emulator enforces the
types of the JSON as sent, like `pyfunc.predict` on data nobody cast (batch scoring, Spark UDFs, models
whose signature comes from type hints): a client that loses a value's JSON type is caught here rather than
served a silently converted value.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.errors import ApiError

Row = dict[str, Any]


@dataclass(frozen=True)
class NumpyType:
    """How numpy names an MLflow type, and what `_enforce_mlflow_datatype` compares: kind and size."""

    name: str
    kind: str
    itemsize: int


MLFLOW_TYPES: dict[str, NumpyType] = {
    "boolean": NumpyType("bool", "b", 1),
    "integer": NumpyType("int32", "i", 4),
    "long": NumpyType("int64", "i", 8),
    "float": NumpyType("float32", "f", 4),
    "double": NumpyType("float64", "f", 8),
    "string": NumpyType("<U0", "U", 0),
    "binary": NumpyType("|S0", "S", 0),
    "datetime": NumpyType("datetime64[ns]", "M", 8),
}
"""MLflow's `DataType`s of a column-based signature, as `DataType.to_numpy()` gives them."""

_INT64 = NumpyType("int64", "i", 8)
_FLOAT64 = NumpyType("float64", "f", 8)
_BOOL = MLFLOW_TYPES["boolean"]
_OBJECT = NumpyType("object", "O", 8)

MISSING_VALUES_HINT = (
    " Hint: the type mismatch is likely caused by missing values. Integer columns in python can not represent "
    "missing values and are therefore encoded as floats. The best way to avoid this problem is to infer the model "
    "schema based on a realistic data sample (training dataset) that includes missing values. Alternatively, you "
    "can declare integer columns as doubles (float64) whenever these columns may have missing values. See "
    "`Handling Integers With Missing Values <https://www.mlflow.org/docs/latest/models.html#"
    "handling-integers-with-missing-values>`_ for more details."
)


class SignatureError(Exception):
    """Why the rows do not match the signature, in MLflow's words (the innermost message)."""


def column_dtype(values: Sequence[Any]) -> tuple[NumpyType, bool]:
    """The dtype pandas gives a column of JSON values, and whether it holds missing values."""
    present = [value for value in values if value is not None]
    gaps = len(present) != len(values)
    if present and all(isinstance(value, bool) for value in present):
        return (_OBJECT if gaps else _BOOL), gaps
    numbers = [value for value in present if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if present and len(numbers) == len(present):
        whole = all(isinstance(value, int) for value in numbers)
        return (_INT64 if whole and not gaps else _FLOAT64), gaps
    return _OBJECT, gaps


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def enforce_column(name: str, values: Sequence[Any], mlflow_type: str) -> None:
    """`_enforce_mlflow_datatype` for one column: returns when MLflow accepts it, else raises its message."""
    target = MLFLOW_TYPES[mlflow_type]
    dtype, gaps = column_dtype(values)
    if dtype.kind == "O" and mlflow_type in ("string", "binary"):
        return  # text (and MLflow's base64 text for binary): "the object can contain any type"
    if dtype.kind == "O" and mlflow_type == "boolean" and all(v is None or isinstance(v, bool) for v in values):
        return  # booleans with gaps: MLflow leaves them as objects rather than turn None into False
    if mlflow_type == "datetime" and dtype.kind == "O":
        if all(value is None or _is_datetime(value) for value in values):
            return
        raise SignatureError(f"Failed to convert column {name} from type object to datetime.")
    if dtype == target:
        return
    if dtype.kind == target.kind:
        upcast = dtype.itemsize <= target.itemsize
    elif dtype.kind in ("i", "u") and target == _FLOAT64:
        upcast = dtype.itemsize <= 6  # MLflow: an int64 is not exactly a float64
    else:
        upcast = False
    if upcast:
        return
    whole = all(value is None or float(value).is_integer() for value in values) if dtype == _FLOAT64 else False
    hint = MISSING_VALUES_HINT if dtype == _FLOAT64 and target.kind in ("i", "u") and gaps and whole else ""
    raise SignatureError(
        f"Incompatible input types for column {name}. Can not safely convert {dtype.name} to {target.name}.{hint}"
    )


def enforce(signature: Mapping[str, str], rows: Sequence[Row]) -> None:
    """`_enforce_schema` for a column-based signature with named columns (all required)."""
    names = list(signature)
    actual: list[str] = []
    for row in rows:
        actual += [column for column in row if column not in actual]
    missing = [column for column in names if column not in actual]
    if missing:
        extra = [column for column in actual if column not in signature]
        message = f"Model is missing inputs {missing}."
        if extra:
            message += f" Note that there were extra inputs: {extra}"
        raise SignatureError(message)
    for column in names:
        enforce_column(column, [row.get(column) for row in rows], signature[column])


def describe(signature: Mapping[str, str]) -> str:
    """The signature as MLflow prints a `Schema`: `['age': long (required), ...]`."""
    return "[" + ", ".join(f"'{name}': {kind} (required)" for name, kind in signature.items()) + "]"


def refusal(signature: Mapping[str, str], rows: Sequence[Row], error: SignatureError) -> ApiError:
    """The answer of the model server: 400 INVALID_PARAMETER_VALUE, its message wrapped as MLflow wraps it.

    MLflow shows the data as pandas prints it; the emulator shows the rows as JSON, as they were sent."""
    data = json.dumps(list(rows))
    return ApiError(
        400,
        "INVALID_PARAMETER_VALUE",
        f"Failed to predict data '{data}'. \nError: Failed to enforce schema of data '{data}' with schema "
        f"'{describe(signature)}'. Error: {error}",
    )
