"""Typed, immutable configuration: the data contract and the training configuration.

Both are YAML files validated on load. The resolved configuration (contract inlined, defaults
filled in) is what a pipeline run receives as one canonical JSON parameter, so every run records
the full parameters and seeds it used.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from samdops.digest import canonical_json
from samdops.errors import ConfigError

if TYPE_CHECKING:
    from samdops.features.transforms import Transform


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSpec(_Frozen):
    """One column of a data contract. Ranges apply after missing codes became missing."""

    name: str = Field(min_length=1)
    dtype: Literal["integer", "float", "binary"]
    unit: str = ""
    description: str = ""
    min: float | None = None
    max: float | None = None
    missing_codes: tuple[float, ...] = ()
    max_missing: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_range(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class DataContract(_Frozen):
    """Columns, dtypes, valid ranges and allowed missingness of a tabular dataset.

    ``group`` names the column that ties rows together (e.g. the stay of hourly ICU rows): it is
    a pseudonymous integer id, never a feature; rows of one group are never split between
    training and test, and bootstrap intervals resample whole groups.
    """

    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    label: str
    group: str | None = None
    columns: tuple[ColumnSpec, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _check_columns(self) -> DataContract:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate columns {duplicates}")
        if self.label not in names:
            raise ValueError(f"label {self.label!r} is not one of the columns")
        if self.group is not None:
            if self.group not in names:
                raise ValueError(f"group {self.group!r} is not one of the columns")
            if self.group == self.label:
                raise ValueError("the group column cannot be the label")
            spec = self.column(self.group)
            if spec.dtype != "integer" or spec.missing_codes or spec.max_missing:
                raise ValueError(
                    f"group column {self.group!r} must be dtype integer with no missing values"
                )
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.name not in (self.label, self.group))

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)


class SplitConfig(_Frozen):
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = Field(default=20_261_128, ge=0)


class XGBoostParams(_Frozen):
    n_estimators: int = Field(default=300, ge=1, le=10_000)
    max_depth: int = Field(default=3, ge=1, le=16)
    learning_rate: float = Field(default=0.05, gt=0.0, le=1.0)
    subsample: float = Field(default=0.9, gt=0.0, le=1.0)
    colsample_bytree: float = Field(default=0.9, gt=0.0, le=1.0)
    min_child_weight: float = Field(default=1.0, ge=0.0)
    reg_lambda: float = Field(default=1.0, ge=0.0)


class LogisticRegressionParams(_Frozen):
    C: float = Field(default=1.0, gt=0.0)
    max_iter: int = Field(default=1000, ge=10)


class ModelConfig(_Frozen):
    family: Literal["xgboost", "logistic_regression"] = "xgboost"
    seed: int = Field(default=42, ge=0)
    n_threads: int = Field(default=1, ge=1, le=64)
    xgboost: XGBoostParams = XGBoostParams()
    logistic_regression: LogisticRegressionParams = LogisticRegressionParams()


class SubgroupSpec(_Frozen):
    """Rows binned by a numeric column: ``edges`` are left-closed bin edges."""

    name: str
    column: str
    edges: tuple[float, ...] = Field(min_length=2)
    labels: tuple[str, ...]

    @model_validator(mode="after")
    def _check_bins(self) -> SubgroupSpec:
        if list(self.edges) != sorted(set(self.edges)):
            raise ValueError("edges must be strictly increasing")
        if len(self.labels) != len(self.edges) - 1:
            raise ValueError(f"{len(self.edges) - 1} bins need as many labels")
        return self


MetricName = Literal[
    "auroc",
    "auprc",
    "brier",
    "ece",
    "sensitivity",
    "specificity",
    "alert_rate",
    "ppv",
    "calibration_slope",
    "calibration_intercept",
]
DEFAULT_METRICS: tuple[MetricName, ...] = (
    "auroc",
    "auprc",
    "brier",
    "ece",
    "sensitivity",
    "specificity",
)


class Criterion(_Frozen):
    """An acceptance criterion fixed before training, e.g. AUROC CI lower bound >= 0.75."""

    metric: MetricName
    statistic: Literal["point", "ci_low", "ci_high"] = "point"
    min: float | None = None
    max: float | None = None
    scope: Literal["overall", "each_subgroup"] = "overall"
    min_subgroup_size: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _check_bound(self) -> Criterion:
        if (self.min is None) == (self.max is None):
            raise ValueError("set exactly one of min or max")
        return self

    def describe(self) -> str:
        bound = f">= {self.min}" if self.min is not None else f"<= {self.max}"
        scope = "" if self.scope == "overall" else " in each subgroup"
        return f"{self.metric} {self.statistic} {bound}{scope}"


class BootstrapConfig(_Frozen):
    n_resamples: int = Field(default=1000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    seed: int = Field(default=7, ge=0)


class EvaluationConfig(_Frozen):
    """How the held-out test set is judged.

    ``metrics`` are computed overall and per subgroup; ``alert_rate`` and ``ppv`` are taken at
    ``threshold``; ``calibration_slope`` and ``calibration_intercept`` (logistic recalibration of
    logit(score)) are point estimates only, as refitting them per resample is too slow.
    """

    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    calibration_bins: int = Field(default=10, ge=2, le=100)
    cv_folds: int = Field(default=5, ge=2, le=20)
    metrics: tuple[MetricName, ...] = Field(default=DEFAULT_METRICS, min_length=1)
    bootstrap: BootstrapConfig = BootstrapConfig()
    subgroups: tuple[SubgroupSpec, ...] = ()
    acceptance: tuple[Criterion, ...] = ()

    @model_validator(mode="after")
    def _check_metrics(self) -> EvaluationConfig:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("metrics lists a metric twice")
        unknown = sorted({c.metric for c in self.acceptance} - set(self.metrics))
        if unknown:
            raise ValueError(f"acceptance uses metric(s) {unknown} that `metrics` does not list")
        return self


class ValidationConfig(_Frozen):
    """Bounds of the data-validation conditions (integrity, then train/test)."""

    max_duplicate_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    max_conflicting_label_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    max_feature_label_pps: float = Field(default=0.8, ge=0.0, le=1.0)
    max_train_test_mix_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    max_feature_drift: float = Field(default=0.2, ge=0.0, le=1.0)
    max_label_drift: float = Field(default=0.1, ge=0.0, le=1.0)
    # With a test set of ~150 rows, PPS differences up to ~0.45 occur by chance alone.
    max_pps_change: float = Field(default=0.5, ge=0.0, le=1.0)
    seed: int = Field(default=0, ge=0)


class DataConfig(_Frozen):
    path: str
    sha256: str | None = None


class TrainingConfig(_Frozen):
    """Everything a training run needs besides the data bytes themselves.

    ``features`` names a feature transform of :mod:`samdops.features.transforms` applied to the
    contract's rows before training and scoring; without one the model is trained on the
    contract's columns.
    """

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    data: DataConfig
    contract: DataContract
    features: str | None = None
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    validation: ValidationConfig = ValidationConfig()

    @field_validator("features")
    @classmethod
    def _check_transform(cls, value: str | None) -> str | None:
        from samdops.features.transforms import TRANSFORM_NAMES, unknown_transform_message

        if value is not None and value not in TRANSFORM_NAMES:
            raise ValueError(unknown_transform_message(value))
        return value

    @model_validator(mode="after")
    def _check_references(self) -> TrainingConfig:
        names = {c.name for c in self.contract.columns}
        for group in self.evaluation.subgroups:
            if group.column not in names:
                raise ValueError(f"subgroup {group.name!r} uses unknown column {group.column!r}")
        transform = self.transform()
        if transform is not None:
            missing = [c for c in transform.inputs if c not in names]
            if missing:
                raise ValueError(
                    f"feature transform {transform.name} needs column(s) {missing} that "
                    f"contract {self.contract.name} does not declare"
                )
            if self.contract.group != transform.group:
                raise ValueError(
                    f"feature transform {transform.name} works within groups of "
                    f"{transform.group!r}; set the contract's group to {transform.group!r}"
                )
        return self

    def transform(self) -> Transform | None:
        """The named feature transform, or None when the model takes the contract's columns."""
        from samdops.features.transforms import get_transform

        return None if self.features is None else get_transform(self.features)

    @property
    def model_features(self) -> tuple[str, ...]:
        """The model's input columns: the transform's outputs, else the contract's features."""
        transform = self.transform()
        return self.contract.feature_names if transform is None else transform.outputs

    def to_json(self) -> str:
        """The resolved configuration as canonical JSON (the pipeline's ``config`` parameter)."""
        return canonical_json(self.model_dump(mode="json")).decode("utf-8")

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"the config parameter is not JSON: {exc}") from None
        return _parse(cls, data, "config parameter")


_M = TypeVar("_M", bound=BaseModel)


def _parse(model: type[_M], data: Any, source: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        shown = _shown(first.get("input"))
        more = f"; and {exc.error_count() - 1} more problem(s)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {where}: {first['msg']}{shown}{more}") from None


_SHOWN_MAX = 40  # longer strings may be secrets or file contents: described, never quoted


def _shown(got: Any) -> str:
    """`` (got VALUE)`` for a value that is short and safe to print, else what kind it is."""
    if isinstance(got, dict | list) or got is None:
        return ""
    if isinstance(got, str) and (len(got) > _SHOWN_MAX or not got.isprintable()):
        return f" (got a string of {len(got)} characters)"
    return f" (got {got!r})"


def _read_yaml(path: Path, what: str = "config") -> dict[str, Any]:
    """A YAML file that holds a mapping, or a one-line :class:`ConfigError` that quotes none of
    its content."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} file {path} is a directory; pass a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} file {path} is not UTF-8 text; pass a YAML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigError(f"{what} file {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{what} file {path} must hold a YAML mapping; it holds {kind}")
    return data


def load_contract(path: str | Path) -> DataContract:
    """Load and validate a data contract YAML file."""
    return _parse(DataContract, _read_yaml(Path(path), "contract"), str(path))


def load_config(path: str | Path) -> TrainingConfig:
    """Load a training config. ``contract`` and ``data.path`` are resolved relative to it."""
    source = Path(path)
    raw = dict(_read_yaml(source))
    contract_ref = raw.get("contract")
    if isinstance(contract_ref, str):
        raw["contract"] = _read_yaml(source.parent / contract_ref, "contract")
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str):
        data_path = Path(data["path"])
        if not data_path.is_absolute():
            data_path = _resolve_data_path(source.parent, data_path)
        raw["data"] = {**data, "path": str(data_path)}
    return _parse(TrainingConfig, raw, str(source))


def _resolve_data_path(config_dir: Path, relative: Path) -> Path:
    # Packaged configs name data shipped in the repository's data/ folder; look upwards for it.
    for base in (config_dir, *config_dir.parents, Path.cwd()):
        candidate = base / relative
        if candidate.exists():
            return candidate.resolve()
    return (config_dir / relative).resolve()


def default_config_path() -> Path:
    """The packaged Pima training configuration."""
    return packaged_config_path("pima")


def packaged_config_path(name: str) -> Path:
    """The packaged training configuration called ``name`` (``pima``, ``sepsis``)."""
    return Path(str(resources.files("samdops") / "configs" / f"{name}.yaml"))


def resolve_config_path(value: str | Path | None) -> Path:
    """A config given as a path, or as the name of a packaged config; None: the Pima config."""
    if value is None:
        return default_config_path()
    path = Path(value)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    packaged = packaged_config_path(str(value))  # training configs have no '-' in their name
    return packaged if "-" not in str(value) and packaged.is_file() else path
