"""The registry helper: duplicates refused, unknown names answered with the known ones, and the
registries built on it (data sets, models, compute models, suite backends, commands, figures)."""

import pytest

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry


def test_add_and_register_store_items_and_refuse_a_second_entry() -> None:
    colours: Registry[int] = Registry("colour")
    assert colours.add("red", 1) == 1

    @colours.register("blue")
    def blue() -> int:
        return 2

    assert colours["blue"] is blue and colours.names() == ["blue", "red"] and "red" in colours
    with pytest.raises(RuntimeError, match="colour 'red' registered twice"):
        colours.add("red", 3)
    assert colours["red"] == 1  # the first entry stays


def test_unknown_name_lists_the_known_ones() -> None:
    colours: Registry[int] = Registry("colour")
    colours.add("red", 1)
    colours.add("green", 2)
    with pytest.raises(KeyError) as err:
        colours["mauve"]
    assert err.value.args[0] == "unknown colour 'mauve'; use one of ['green', 'red']"
    assert colours.get("mauve") is None
    with pytest.raises(ConfigError) as config_err:
        colours.require("mauve", "exp.yaml", "colour")
    assert str(config_err.value) == "exp.yaml: colour: unknown colour 'mauve' (fix: use one of green, red)"
    assert colours.require("red", "exp.yaml", "colour") == 1


def test_item_assignment_replaces_for_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    colours: Registry[int] = Registry("colour")
    colours.add("red", 1)
    monkeypatch.setitem(colours, "red", 5)
    monkeypatch.setitem(colours, "new", 6)
    assert colours["red"] == 5 and colours["new"] == 6
    monkeypatch.undo()
    assert dict(colours) == {"red": 1}


def test_the_testbeds_registries_are_registries() -> None:
    import testbed.runtime  # noqa: F401  (registers "ray")
    from analysis.registry import all_figures
    from testbed.cli import COMMANDS, build_parser
    from testbed.data import DATASETS, dataset_spec
    from testbed.models import BUILDERS, PRESETS, model_config
    from testbed.sim.compute import COMPUTE_MODELS
    from testbed.suite.backends import BACKENDS

    build_parser()
    for registry in (all_figures(), COMMANDS, COMPUTE_MODELS, DATASETS, BUILDERS, PRESETS, BACKENDS):
        assert isinstance(registry, Registry) and registry.names()
    assert COMPUTE_MODELS.names() == ["calibrated", "fixed", "measured"] and BACKENDS.names() == ["inprocess", "ray"]
    assert "topo check" in COMMANDS and COMMANDS["topo check"].words == ("topo", "check")
    with pytest.raises(ConfigError, match="unknown data set 'nope'"):
        dataset_spec("nope")
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        model_config("nope")
