"""Config dataclasses as user settings: TOML tables in, click options out.

``to_dataclass`` builds a config from a TOML table (or a JSON record),
naming the key and the reason of any error; ``click_options`` derives a
command's options from the same dataclass (name, type, default, and help
from the field's docstring), so the command line, TOML and Python share one
declaration and the dataclass's own ``__post_init__`` checks all three.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
import types
import typing
from typing import Any

import click

from .configs import CHOICES
from .errors import ConfigError, MacedonizerError



def merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def unknown_keys(table: dict, known, source: str, where: str) -> None:
    for key in table:
        if key not in known:
            place = f"[{where}] " if where else ""
            raise ConfigError(
                f"{source}: {place}unknown key {key!r} (known: {', '.join(sorted(known))}).")


class _Mismatch(Exception):
    pass


def to_dataclass(cls, table, source: str, where: str):
    """Build ``cls`` from a TOML table, naming the key and the reason of any error."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{where}] must be a table.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown_keys(table, fields, source, where)
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in table.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = to_dataclass(hint, value, source, f"{where}.{key}")
            continue
        try:
            values[key] = _convert(value, hint)
        except _Mismatch:
            raise ConfigError(
                f"{source}: [{where}] {key}: expected {_describe(hint)}, got {value!r}.") from None
    missing = [name for name, f in fields.items() if name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{source}: [{where}] lacks the key {missing[0]!r}.")
    try:
        return cls(**values)
    except MacedonizerError as exc:  # the class's own checks
        raise ConfigError(f"{source}: [{where}] {exc}") from None


def _convert(value: Any, hint):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is type(None):
                continue
            try:
                return _convert(value, option)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, list):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0]) for v in value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_convert(v, a) for v, a in zip(value, args))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if hint is dict or origin is dict:
        if isinstance(value, dict):
            return value
        raise _Mismatch
    raise _Mismatch


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}s"
        return f"a list of {len(args)} values"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


# ---------------------------------------------------------------- dataclasses → click options


@functools.cache
def docstrings(cls) -> dict[str, str]:
    """The docstring under each field of a dataclass (``name: type = default`` then ``\"\"\"text\"\"\"``)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def click_options(cls, *, skip: tuple[str, ...] = (), names: dict[str, str] | None = None,
                  recipe: tuple[str, ...] = (), nested: dict[str, dict[str, str]] | None = None,
                  types: dict[str, click.ParamType] | None = None):
    """A decorator adding one click option per field of ``cls``.

    ``names`` renames options (field → ``--option``) and ``types`` gives a field a click type of its own
    (a duration, say); ``recipe`` fields default to None, which the command
    reads as "the size's recipe"; ``nested`` maps a dataclass-typed field to option names of its fields.
    Values are passed to the command under the field's name (nested ones as ``field__sub``); ranges and
    choices are checked by the dataclass itself, so a bad value fails as it does from TOML or Python.
    """
    names, nested, types = names or {}, nested or {}, types or {}
    hints = typing.get_type_hints(cls)
    options = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.name in nested:
            sub = hints[f.name]
            options += _options_of(sub, typing.get_type_hints(sub), nested[f.name], prefix=f"{f.name}__")
            continue
        options.append(_option(cls, f, types.get(f.name, hints[f.name]), names.get(f.name, option_name(f.name)),
                               f.name, recipe=f.name in recipe))

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command
    return decorate


def _options_of(cls, hints: dict, names: dict[str, str], prefix: str) -> list:
    return [_option(cls, f, hints[f.name], names.get(f.name, option_name(f.name)), prefix + f.name)
            for f in dataclasses.fields(cls)]


def _option(cls, f: dataclasses.Field, hint, flag: str, dest: str, recipe: bool = False):
    help_text = docstrings(cls).get(f.name, "")
    default = None if recipe else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
    if recipe:
        help_text += "  [default: the size's recipe]"
    base = hint if isinstance(hint, click.ParamType) else _base_type(hint)
    kwargs: dict[str, Any] = {"help": help_text, "default": default}
    if base is bool:
        if default:
            return click.option(f"{flag}/--no-{flag[2:]}", dest, default=True, show_default=True, help=help_text)
        return click.option(flag, dest, is_flag=True, help=help_text)
    if f.name in CHOICES:
        kwargs["type"] = click.Choice(CHOICES[f.name])
    elif typing.get_origin(base) is tuple:
        kwargs.update(type=typing.get_args(base)[0], nargs=len(typing.get_args(base)))
    else:
        kwargs["type"] = base
    return click.option(flag, dest, show_default=default is not None, **kwargs)


def _base_type(hint):
    """``int | None`` → ``int``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def settings_from(cls, values: dict, **fixed) -> dict:
    """The settings of ``cls`` among a command's option values (nested ones under ``field__sub``), over ``fixed``."""
    hints = typing.get_type_hints(cls)
    settings = dict(fixed)
    for f in dataclasses.fields(cls):
        if f.name in settings:
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            sub = {k.split("__", 1)[1]: v for k, v in values.items() if k.startswith(f.name + "__")}
            if sub:
                settings[f.name] = hints[f.name](**sub)
        elif f.name in values:
            settings[f.name] = values[f.name]
    return settings
