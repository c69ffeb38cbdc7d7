"""Load, override, default-fill and validate a YAML config.

Every problem becomes one line naming the key path, the value and what is
allowed; :class:`ConfigError` carries all of them so the CLI prints them
together and exits 2.
"""

import copy
from pathlib import Path

import jsonschema
import yaml

from .schema import SCHEMA


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping gives the same key twice (PyYAML would silently keep the last value)."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats (``1e-6`` is a number, not a string) that
    refuses a key given twice in one mapping (:class:`DuplicateKeyError`)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue                    # ``<<: *base``: merged keys may be overridden
                key = self.construct_object(key_node, deep=True)
                try:
                    seen = first.setdefault(key, key_node.start_mark)
                except TypeError:               # an unhashable key: PyYAML's own error
                    break
                if seen is not key_node.start_mark:
                    raise DuplicateKeyError(None, None, f"key {key!r} given twice (first on "
                                                        f"line {seen.line + 1})",
                                            key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    __import__("re").compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                                |[-+]?\.(?:inf|Inf|INF)
                                |\.(?:nan|NaN|NAN))$""", __import__("re").X),
    list("-+0123456789."))


def _load_yaml(text):
    return yaml.load(text, Loader=_Loader)

__all__ = ["ConfigError", "Config", "load_config", "parse_override", "config_from_dict"]


class ConfigError(Exception):
    """One or more configuration problems, one message per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class Config:
    """Validated config: attribute access by section (``cfg.router.vcs``).

    ``cfg.raw`` is the complete, default-filled dict (what manifests record).
    """

    def __init__(self, raw):
        self.raw = raw
        for key, value in raw.items():
            setattr(self, key, _Section(value) if isinstance(value, dict) else value)

    def __repr__(self):
        return f"Config({self.raw.get('name')!r})"


class _Section:
    def __init__(self, d):
        self.__dict__.update(d)

    def __repr__(self):
        return f"Section({self.__dict__!r})"


def _fill_defaults(schema, value):
    kinds = schema.get("type")
    if (kinds == "object" or isinstance(kinds, list) and "object" in kinds) and isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _fill_defaults(sub, value[key])
    return value


def _path(parts):
    """``['die', 'dead_routers', 2, 0]`` -> ``'die.dead_routers[2][0]'``."""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else ("." if text else "") + str(p)
    return text or "<top>"


def _describe(schema):
    if "x-allowed" in schema:
        return schema["x-allowed"]
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    bits = []
    if "minimum" in schema:
        bits.append(f">= {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        bits.append(f"> {schema['exclusiveMinimum']}")
    if "maximum" in schema:
        bits.append(f"<= {schema['maximum']}")
    names = {"integer": "an integer", "number": "a number", "boolean": "true or false",
             "string": "a string", "null": "null", "object": "a mapping"}
    kinds = sorted(kinds, key=lambda k: k != "null")          # "null or an integer >= 1"
    return " or ".join(names.get(k, k) for k in kinds) + (" " + " and ".join(bits) if bits else "")


def _schema_errors(raw, schema=SCHEMA):
    """One line per problem of ``raw`` against ``schema`` (the config's by default; the
    training step's workload files use the same wording, :mod:`sim.step.spec`)."""
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - set(allowed))
            for key in extra:
                problems.append(f"{_path(path + [key])}: unknown key (allowed: {', '.join(allowed)})")
        elif err.validator == "required":
            for key in err.validator_value:
                if key not in err.instance:
                    problems.append(f"{_path(path + [key])}: missing (required in "
                                    f"{_path(path)}: must be {_describe(err.schema['properties'][key])})")
        elif err.validator == "type" and err.schema.get("type") == "object":
            problems.append(f"{_path(path)}: {err.instance!r} is not allowed: must be a mapping")
        else:
            problems.append(f"{_path(path)}: {err.instance!r} is not allowed: "
                            f"must be {_describe(err.schema)}")
    return problems


def parse_override(text):
    """``'router.vcs=2'`` -> ``(['router', 'vcs'], 2)``; the value is parsed as YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError([f"override {text!r}: expected KEY.PATH=VALUE, e.g. router.vcs=2"])
    try:
        parsed = _load_yaml(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError([f"override {key}: cannot parse value {value!r} ({exc.problem})"])
    return key.strip().split("."), parsed


def _apply_override(raw, path, value):
    node = raw
    for depth, part in enumerate(path[:-1]):
        if not isinstance(node.get(part, {}), dict):
            raise ConfigError([f"override {_path(path)}: {_path(path[:depth + 1])} is not a section"])
        node = node.setdefault(part, {})
    node[path[-1]] = value


def config_from_dict(raw, overrides=()):
    """Validate a config dict (plus ``-s`` overrides) -> :class:`Config`."""
    raw = copy.deepcopy(raw) if raw is not None else {}
    if not isinstance(raw, dict):
        raise ConfigError([f"<top>: {raw!r} is not allowed: must be a mapping of sections"])
    for text in overrides:
        _apply_override(raw, *parse_override(text))
    problems = _schema_errors(raw)
    if problems:
        raise ConfigError(problems)
    raw = _fill_defaults(SCHEMA, raw)
    cfg = Config(raw)
    from .derive import consistency_problems   # derivation needs a schema-valid config
    problems = consistency_problems(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def read_yaml(path, what="config", once_per="section"):
    """Read the YAML file ``path`` -> its raw data; ConfigError naming ``what`` and the file
    (and the line, where YAML says it) when it cannot be read, is not YAML or repeats a key
    in one mapping (``once_per`` names that mapping in the message)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"{what} {str(path)!r}: cannot read ({exc.strerror})"])
    try:
        return _load_yaml(text)
    except DuplicateKeyError as exc:
        raise ConfigError([f"{what} {str(path)!r} line {exc.problem_mark.line + 1}: "
                           f"{exc.problem}; allowed: each key once per {once_per}"])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{what} {str(path)!r}{where}: invalid YAML "
                           f"({getattr(exc, 'problem', exc)})"])


def load_config(path, overrides=()):
    """Read a YAML file -> validated :class:`Config`."""
    raw = read_yaml(path)
    if raw is None:
        raise ConfigError([f"config {str(path)!r}: empty (no sections); allowed: a mapping "
                           f"of sections such as name, router, die (see configs/)"])
    return config_from_dict(raw, overrides)
