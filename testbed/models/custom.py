"""The researcher's own G and D: ``model: {name: custom, generator: "pkg.mod:Gen", discriminator: ...}``.

Why: every FL framework takes the user's model (Flower's ClientApp, FedScale's model hook); the
testbed must too, with its byte formulas still exact -- they count |G|, |D| and G's BatchNorm
buffers from whatever modules are built, so a custom pair is sized like a preset.

The interface is plain ``torch.nn.Module`` classes: G maps a (batch, latent_dim) standard-normal
batch to samples of the data's shape (images in [-1, 1], e.g. a tanh output), D maps samples to one
logit per sample, (batch,) or (batch, 1).  Each class is called with the keyword arguments it
names out of ``latent_dim``, ``sample_shape`` and the YAML's ``kwargs`` (all of them, if it takes
``**kwargs``); a ``kwargs`` key neither class takes is an error, not ignored.  Importing user code
is explicit: the module is imported with ``import_dir`` (default: the experiment file's directory)
first on ``sys.path`` for the import only (and no bytecode written beside it), then from
``PYTHONPATH``; a module of that name already imported from elsewhere is imported again from
``import_dir``.  Every failure is one line naming
``model.generator`` / ``model.discriminator`` / ``model.kwargs`` and the fix.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from torch import nn

from testbed.core.errors import ConfigError
from testbed.models.config import CUSTOM_BUILDER, ModelConfig, register_builder, register_preset

_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


def _fail(field: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(None, f"model.{field}", problem, fix)


def _module_file(import_dir: str, module: str) -> Path | None:
    """Where ``module`` would be found inside ``import_dir``, if there."""
    base = Path(import_dir).joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _import(field: str, module: str, import_dir: str) -> Any:
    local = _module_file(import_dir, module) if import_dir else None
    loaded = sys.modules.get(module)
    if local is not None and loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != local:
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[name]  # the experiment's directory wins over a same-named module imported before
    added = bool(import_dir) and import_dir not in sys.path
    if added:
        sys.path.insert(0, import_dir)
    quiet = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # importing the researcher's code writes nothing beside it
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and module != err.name and not module.startswith(err.name + "."):
            raise _fail(field, f"importing {module!r} failed: it imports {err.name!r}, which is not installed",
                        f"install {err.name}") from None
        where = f"{import_dir} or PYTHONPATH" if import_dir else "PYTHONPATH"
        raise _fail(field, f"no module {module!r} in {where}",
                    f"put {module.replace('.', '/')}.py beside the experiment file, set model.import_dir, "
                    "or add its folder to PYTHONPATH") from None
    except Exception as err:
        problem = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        raise _fail(field, f"importing {module!r} raised {problem}", "fix the module so it imports") from None
    finally:
        sys.dont_write_bytecode = quiet
        if added and import_dir in sys.path:
            sys.path.remove(import_dir)


def import_class(field: str, path: str, import_dir: str) -> type[nn.Module]:
    """The ``nn.Module`` subclass ``module:Class`` names, imported as the module docstring says."""
    if not isinstance(path, str) or not _PATH.match(path):
        raise _fail(field, f"expected 'package.module:Class', got {path!r}",
                    f"write {field}: \"mygan:{field.capitalize()}\" (the module mygan.py beside the experiment)")
    module_name, _, class_name = path.partition(":")
    module = _import(field, module_name, import_dir)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, nn.Module)
                       and v.__module__ == module.__name__)
        raise _fail(field, f"module {module_name!r} has no {class_name!r}",
                    f"use one of its nn.Module classes: {', '.join(found) or 'none found'}")
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise _fail(field, f"{path} is not a torch.nn.Module class", "name a subclass of torch.nn.Module")
    return cls


def _accepts(cls: type) -> tuple[set[str], bool, set[str]]:
    """(keyword names ``cls(...)`` takes, whether it takes ``**kwargs``, the required ones)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.default is p.empty}
    return named, any(p.kind is p.VAR_KEYWORD for p in params), required


def _construct(field: str, path: str, cls: type[nn.Module], offered: dict[str, Any]) -> nn.Module:
    named, takes_all, required = _accepts(cls)
    missing = sorted(required - set(offered))
    if missing:
        raise _fail("kwargs", f"{path} needs {', '.join(missing)}", f"add {missing[0]}: ... to model.kwargs")
    arguments = dict(offered) if takes_all else {k: v for k, v in offered.items() if k in named}
    try:
        return cls(**arguments)
    except Exception as err:
        problem = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
        raise _fail(field, f"{path}({shown}) raised {problem}", "fix the class or model.kwargs") from None


@register_builder(CUSTOM_BUILDER)
def build_custom(config: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """G and D from the researcher's classes, constructed as the module docstring says."""
    for field in ("generator", "discriminator"):
        if not getattr(config, field):
            raise _fail(field, "missing", f"write {field}: \"mygan:{field.capitalize()}\"")
    if config.latent_dim < 1:
        raise _fail("latent_dim", "missing", "give the size of G's input, e.g. latent_dim: 64")
    kwargs = json.loads(config.kwargs)
    offered = {"latent_dim": config.latent_dim, "sample_shape": tuple(sample_shape), **kwargs}
    classes = {field: import_class(field, getattr(config, field), config.import_dir)
               for field in ("generator", "discriminator")}
    taken = set()
    for cls in classes.values():
        named, takes_all, _ = _accepts(cls)
        taken |= set(kwargs) if takes_all else named
    unused = sorted(set(kwargs) - taken)
    if unused:
        raise _fail(f"kwargs.{unused[0]}", f"neither {config.generator} nor {config.discriminator} takes it",
                    "remove it, or add the argument to the class")
    generator = _construct("generator", config.generator, classes["generator"], offered)
    discriminator = _construct("discriminator", config.discriminator, classes["discriminator"], offered)
    own = getattr(generator, "latent_dim", config.latent_dim)
    if own != config.latent_dim:
        raise _fail("latent_dim", f"{config.latent_dim}, but {config.generator}.latent_dim is {own!r}",
                    f"write latent_dim: {own}")
    return generator, discriminator


def kwargs_text(value: Any) -> str:
    """``model.kwargs`` (a mapping) as canonical JSON text; a ConfigError if it is not a plain mapping."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail("kwargs", f"expected a mapping of argument names to values, got {value!r}",
                    "write kwargs: {width: 64}")
    reserved = sorted({"latent_dim", "sample_shape"} & set(value))
    if reserved:
        raise _fail(f"kwargs.{reserved[0]}", "is set by the testbed",
                    "drop it from kwargs (latent_dim: is a model setting; sample_shape comes from the data)")
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise _fail("kwargs", f"holds a value that is not plain data ({err})",
                    "use numbers, text, booleans, lists and mappings") from None


register_preset(ModelConfig(name=CUSTOM_BUILDER, builder=CUSTOM_BUILDER, latent_dim=0, hidden=0))
