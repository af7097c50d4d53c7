"""Every malformed genome raises its own error, naming the node or edge."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import genomes
from genomes import (
    ActivationError,
    CycleError,
    DanglingEdgeError,
    Genome,
    HeadError,
    InputError,
    KindError,
    NonFiniteError,
    ShapeError,
    SpaceError,
    UnreachableError,
)


def base() -> Genome:
    return genomes.mlp(4, 2, hidden=[8, 8], seed=0)


def add_cycle(g: Genome) -> None:
    g.graph.add_edge("h1", "h0", weight=np.zeros((8, 8)))


def dangling(g: Genome) -> None:
    g.graph.add_edge("h0", "ghost", weight=np.zeros((1, 8)))


def wrong_weight(g: Genome) -> None:
    g.graph.edges["input", "h0"]["weight"] = np.zeros((8, 3))


def wrong_bias(g: Genome) -> None:
    g.graph.nodes["v1"]["bias"] = np.zeros(7)


def weight_not_array(g: Genome) -> None:
    g.graph.edges["h0", "h1"]["weight"] = [[0.0] * 8] * 8


def no_input(g: Genome) -> None:
    g.graph.nodes["input"]["kind"] = "hidden"
    g.graph.nodes["input"]["bias"] = np.zeros(4)


def two_inputs(g: Genome) -> None:
    g.add_node("input2", kind="input", units=4)
    g.add_edge("input2", "h0")
    g.graph.edges["input2", "h0"]["weight"] = np.zeros((8, 4))


def input_with_parent(g: Genome) -> None:
    g.graph.add_edge("h0", "input", weight=np.zeros((4, 8)))


def missing_head(g: Genome) -> None:
    g.graph.remove_node("policy")


def missing_value_head(g: Genome) -> None:
    # Without a value head the genome is a plain network, so the critic trunk is dead.
    g.graph.remove_node("value")


def duplicate_value_head(g: Genome) -> None:
    g.add_node("value2", kind="value", units=1)
    g.add_edge("v1", "value2")


def plain_with_log_std(g: Genome) -> None:
    g.graph.remove_nodes_from(["value", "v0", "v1"])
    box_without_log_std(g)
    g.graph.nodes["policy"]["log_std"] = np.zeros(2)


def duplicate_head(g: Genome) -> None:
    g.add_node("policy2", kind="policy", units=2)
    g.add_edge("h1", "policy2")


def head_with_child(g: Genome) -> None:
    g.add_edge("policy", "value")


def value_units(g: Genome) -> None:
    g.graph.nodes["value"]["units"] = 2


def unknown_activation(g: Genome) -> None:
    g.graph.nodes["h1"]["activation"] = "swish2"


def unknown_kind(g: Genome) -> None:
    g.graph.nodes["v0"]["kind"] = "conv"


def nan_weight(g: Genome) -> None:
    g.graph.edges["v0", "v1"]["weight"][3, 2] = np.nan


def inf_bias(g: Genome) -> None:
    g.graph.nodes["h0"]["bias"][0] = np.inf


def from_nowhere(g: Genome) -> None:
    g.add_node("orphan", units=3, activation="relu")
    g.add_edge("orphan", "policy")


def to_nowhere(g: Genome) -> None:
    g.add_node("deadend", units=3, activation="relu")
    g.add_edge("h0", "deadend")


def wrong_policy_units(g: Genome) -> None:
    g.meta["action_space"] = {"type": "discrete", "n": 3}


def box_without_log_std(g: Genome) -> None:
    g.meta["action_space"] = {"type": "box", "shape": [2], "low": [-1, -1], "high": [1, 1]}


def bad_space(g: Genome) -> None:
    g.meta["observation_space"] = {"type": "box", "shape": "four"}


def missing_space(g: Genome) -> None:
    del g.meta["action_space"]


CASES: list[tuple[Callable[[Genome], None], type[Exception], list[str]]] = [
    (add_cycle, CycleError, ["'h0'", "'h1'"]),
    (dangling, DanglingEdgeError, ["'h0'->'ghost'", "'ghost'"]),
    (wrong_weight, ShapeError, ["'input'->'h0'", "(8, 4)", "(8, 3)"]),
    (wrong_bias, ShapeError, ["'v1'", "bias"]),
    (weight_not_array, ShapeError, ["'h0'->'h1'", "list"]),
    (no_input, InputError, ["input node", "got 0"]),
    (two_inputs, InputError, ["'input'", "'input2'"]),
    (input_with_parent, InputError, ["'input'", "'h0'"]),
    (missing_head, HeadError, ["'policy'", "got 0"]),
    (missing_value_head, UnreachableError, ["'v0'", "to a head"]),
    (duplicate_value_head, HeadError, ["'value'", "'value2'"]),
    (plain_with_log_std, HeadError, ["'policy'", "log_std", "plain network"]),
    (duplicate_head, HeadError, ["'policy'", "'policy2'"]),
    (head_with_child, HeadError, ["'policy'", "'value'"]),
    (value_units, HeadError, ["'value'", "1 unit", "got 2"]),
    (unknown_activation, ActivationError, ["'h1'", "'swish2'"]),
    (unknown_kind, KindError, ["'v0'", "'conv'"]),
    (nan_weight, NonFiniteError, ["'v0'->'v1'"]),
    (inf_bias, NonFiniteError, ["'h0'", "bias"]),
    (from_nowhere, UnreachableError, ["'orphan'", "from the input"]),
    (to_nowhere, UnreachableError, ["'deadend'", "to a head"]),
    (wrong_policy_units, HeadError, ["'policy'", "3 units"]),
    (box_without_log_std, HeadError, ["'policy'", "log_std"]),
    (bad_space, SpaceError, ["observation_space", "'four'"]),
    (missing_space, SpaceError, ["action_space"]),
]


@pytest.mark.parametrize(("breaker", "error", "needles"), CASES, ids=[c[0].__name__ for c in CASES])
def test_malformed_genome_raises_specific_error(
    breaker: Callable[[Genome], None], error: type[Exception], needles: list[str]
) -> None:
    g = base()
    breaker(g)
    with pytest.raises(error) as info:
        g.validate()
    message = str(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_errors_form_a_hierarchy() -> None:
    for error in (CycleError, ShapeError, HeadError, SpaceError, UnreachableError):
        assert issubclass(error, genomes.InvalidGenomeError)
        assert issubclass(error, genomes.GenomeError)
        assert issubclass(error, ValueError)
    assert issubclass(genomes.FormatError, genomes.GenomeError)


def test_valid_genomes_pass_and_validate_returns_self() -> None:
    for g in (base(), genomes.minimal(3, 2), genomes.mlp(5, 3, hidden=[4], shared=True)):
        assert g.validate() is g


def test_nonfinite_log_std_is_named() -> None:
    box = {"type": "box", "shape": [2], "low": [-1.0, -1.0], "high": [1.0, 1.0]}
    g = genomes.mlp(3, box, hidden=[4])
    g.graph.nodes["policy"]["log_std"][1] = np.nan
    with pytest.raises(NonFiniteError, match="'policy': log_std"):
        g.validate()
