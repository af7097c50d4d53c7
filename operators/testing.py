"""Public helpers to check operators: a random genome generator and the preservation checker.

Check your own operator in three lines::

    >>> import numpy as np
    >>> from operators.testing import check_preservation, random_genome
    >>> from operators.units import widen
    >>> rng = np.random.default_rng(0)
    >>> report = check_preservation(widen, random_genome(rng), rng, preservation="exact")
    >>> report.ok
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import genomes
from genomes import Genome
from genomes.registry import ACTIVATIONS
from operators.base import NotApplicable, default_inputs, outputs
from operators.spec import Operator, Preservation


def random_genome(
    rng: np.random.Generator,
    *,
    max_hidden: int = 5,
    max_units: int = 6,
    activations: list[str] | None = None,
    dropped: float = 0.0,
    value_head: bool = True,
) -> Genome:
    """A random valid genome: skips, multi-input nodes, shared or split trunks, both head kinds.

    Hidden nodes are created in order; each takes 1-3 inputs from earlier
    nodes, and a hidden node without a consumer feeds a later node or a head.
    Heads take 1-3 inputs. Weights are ``N(0, 1/fan_in)``, biases and
    ``log_std`` ``N(0, 0.1)``. With ``dropped > 0`` each input feature is
    dropped (see :func:`operators.drop_input`) with that probability, one
    always kept; with ``dropped=0`` the genome for a seed is the same as
    before the option existed. With ``value_head=False`` the genome is a
    plain network (``genome.is_plain``): the policy head is its only output
    and has no ``log_std``.

    Examples
    --------
    >>> g = random_genome(np.random.default_rng(1))
    >>> g.validate() is g
    True
    >>> random_genome(np.random.default_rng(1), dropped=0.5).dropped_inputs
    [1, 2]
    >>> random_genome(np.random.default_rng(1), value_head=False).is_plain
    True
    """
    acts = sorted(ACTIVATIONS) if activations is None else activations
    obs = int(rng.integers(1, 6))
    box = bool(rng.random() < 0.5)
    act_space: dict[str, Any] = (
        {"type": "box", "shape": [int(rng.integers(1, 4))]}
        if box
        else {"type": "discrete", "n": int(rng.integers(2, 5))}
    )
    g = Genome(
        meta={"observation_space": {"type": "box", "shape": [obs]}, "action_space": act_space}
    )
    n_act = act_space["shape"][0] if box else act_space["n"]
    g.add_node("input", kind="input", units=obs)
    hidden = [f"h{i}" for i in range(int(rng.integers(0, max_hidden + 1)))]
    earlier = ["input"]
    for h in hidden:
        units = int(rng.integers(1, max_units + 1))
        act = acts[int(rng.integers(len(acts)))]
        g.add_node(h, units=units, activation=act, bias=0.1 * rng.standard_normal(units))
        k = int(rng.integers(1, min(3, len(earlier)) + 1))
        for u in rng.choice(earlier, size=k, replace=False):
            g.add_edge(
                str(u), h, rng.standard_normal((units, g.units(str(u)))) / np.sqrt(g.units(str(u)))
            )
        earlier.append(h)
    log_std = 0.1 * rng.standard_normal(n_act) if box and value_head else None
    g.add_node(
        "policy", kind="policy", units=n_act, bias=0.1 * rng.standard_normal(n_act), log_std=log_std
    )
    heads = ["policy"]
    shared = False
    if value_head:
        g.add_node("value", kind="value", units=1, bias=0.1 * rng.standard_normal(1))
        shared = bool(rng.random() < 0.5)
        heads.append("value")
    for head in heads:
        if head == "value" and shared:
            srcs = list(g.graph.predecessors("policy"))
        else:
            k = int(rng.integers(1, min(3, len(earlier)) + 1))
            srcs = [str(u) for u in rng.choice(earlier, size=k, replace=False)]
        for u in srcs:
            g.add_edge(
                u, head, rng.standard_normal((g.units(head), g.units(u))) / np.sqrt(g.units(u))
            )
    for i, h in enumerate(hidden):
        if g.graph.out_degree(h) == 0:
            later = [*hidden[i + 1 :], *heads]
            t = later[int(rng.integers(len(later)))]
            g.add_edge(h, t, rng.standard_normal((g.units(t), g.units(h))) / np.sqrt(g.units(h)))
    if dropped > 0:
        drop = rng.random(obs) < dropped
        drop[int(rng.integers(obs))] = False
        if drop.any():
            g.meta["dropped_inputs"] = np.flatnonzero(drop).tolist()
            for v in g.graph.successors("input"):
                g.graph.edges["input", v]["weight"][:, drop] = 0.0
    return g.validate()


@dataclass
class PreservationReport:
    """What :func:`check_preservation` measured.

    Attributes
    ----------
    ok : bool
        Every check passed.
    preservation : str
        The class checked.
    changes : dict of str to float
        Measured relative output changes (``float64``, ``float32``, ``eps``,
        ``eps/2``, ``eps=0``, ``reported``) where they apply.
    failures : list of str
        One line per failed check.
    """

    ok: bool
    preservation: str
    changes: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _rel_change(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    scale = max(1.0, float(np.max(np.abs(a))))
    return float(np.max(np.abs(a - b)) / scale)


def check_preservation(
    op: Operator | Callable[..., Genome],
    genome: Genome,
    rng: np.random.Generator,
    *,
    preservation: Preservation,
    params: Mapping[str, Any] | None = None,
    eps_param: str = "eps",
    eps: float = 1e-3,
    n_inputs: int = 32,
    tol64: float = 1e-10,
    tol32: float = 1e-5,
    ratio: tuple[float, float] = (3.0, 5.0),
    raise_on_failure: bool = False,
) -> PreservationReport:
    """Check an operator's declared preservation class on one genome.

    Always checked: the parent's serialised form is unchanged, the child
    validates and its lineage names the operator with JSON-serialisable
    params. Then, on ``n_inputs`` standard-normal observations and with the
    output change measured relative to ``max(1, max|parent output|)``:

    - ``exact``: change <= ``tol64`` in float64 and <= ``tol32`` in float32.
    - ``eps``: the operator called with ``eps_param=0`` is ``exact``.
    - ``eps2``: the change at ``eps`` over the change at ``eps/2`` (same
      site and direction: same seed) lies in ``ratio``, unless both are
      below ``tol64`` (a site where the operator happens to be exact).
    - ``lossy``: ``lineage["params"]["output_change"]`` exists; when
      ``params`` passes ``inputs``, it must match the change measured here.

    Parameters
    ----------
    op : callable
        ``op(genome, *, rng, **params) -> Genome``.
    genome : Genome
        The parent.
    rng : numpy.random.Generator
        Seeds the operator and draws the inputs.
    preservation : {"exact", "eps2", "eps", "lossy"}
        The class to check.
    params : mapping, optional
        Extra keyword arguments for ``op``.
    eps_param, eps : str and float
        Name and value of the step-size keyword (``eps`` and ``eps2`` classes).
    n_inputs : int
        Batch size of the random observations.
    tol64, tol32, ratio : float, float, (float, float)
        Tolerances, see above.
    raise_on_failure : bool
        Raise ``AssertionError`` listing the failures instead of returning.

    Returns
    -------
    PreservationReport

    Raises
    ------
    NotApplicable
        Passed through from ``op`` when it has no site on ``genome``.
    """
    params = dict(params or {})
    before = genomes.dumps(genome)
    seed = int(rng.integers(2**63))
    x = default_inputs(genome, rng, n_inputs)
    failures: list[str] = []
    changes: dict[str, float] = {}

    def run(**extra: Any) -> Genome:
        child = op(genome, rng=np.random.default_rng(seed), **(params | extra))
        if genomes.dumps(genome) != before:
            failures.append("the parent changed")
        try:
            child.validate()
        except genomes.GenomeError as exc:
            failures.append(f"the child does not validate: {exc}")
        lineage = child.meta.get("lineage", {})
        if not lineage.get("operator") or "params" not in lineage:
            failures.append("the child's lineage names no operator or params")
        genomes.to_dict(child)  # raises if the lineage params are not JSON-serialisable
        return child

    ref64 = outputs(genome, x)
    if preservation in ("exact", "eps"):
        child = run(**({eps_param: 0.0} if preservation == "eps" else {}))
        changes["float64"] = _rel_change(ref64, outputs(child, x))
        changes["float32"] = _rel_change(
            outputs(genome, x, torch.float32), outputs(child, x, torch.float32)
        )
        if changes["float64"] > tol64:
            failures.append(f"float64 change {changes['float64']:.3g} > {tol64:g}")
        if changes["float32"] > tol32:
            failures.append(f"float32 change {changes['float32']:.3g} > {tol32:g}")
    elif preservation == "eps2":
        big = _rel_change(ref64, outputs(run(**{eps_param: eps}), x))
        small = _rel_change(ref64, outputs(run(**{eps_param: eps / 2}), x))
        changes["eps"], changes["eps/2"] = big, small
        if big > tol64 or small > tol64:
            r = big / max(small, 1e-300)
            changes["ratio"] = r
            if not ratio[0] <= r <= ratio[1]:
                failures.append(f"change ratio eps vs eps/2 is {r:.3g}, expected in {ratio}")
    elif preservation == "lossy":
        child = run()
        reported = child.meta["lineage"]["params"].get("output_change")
        if not isinstance(reported, dict) or not np.isfinite(reported.get("max_abs", np.nan)):
            failures.append("no finite lineage['params']['output_change']['max_abs'] reported")
        elif "inputs" in params:
            measured = outputs(child, np.asarray(params["inputs"]))
            expect = float(np.max(np.abs(outputs(genome, np.asarray(params["inputs"])) - measured)))
            changes["reported"] = float(reported["max_abs"])
            if abs(expect - reported["max_abs"]) > 1e-9 * max(1.0, expect):
                failures.append(
                    f"reported change {reported['max_abs']:.3g} != measured {expect:.3g}"
                )
    else:
        raise ValueError(f"Unknown preservation class {preservation!r}")
    report = PreservationReport(not failures, preservation, changes, failures)
    if raise_on_failure and failures:
        raise AssertionError("; ".join(failures))
    return report


__all__ = ["NotApplicable", "PreservationReport", "check_preservation", "random_genome"]
