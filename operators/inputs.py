"""Below the linear floor: ``drop_input`` stops the network reading one observation feature.

The input node's width is the observation size, which the environment fixes,
so a feature cannot leave the graph. Dropping feature ``j`` instead sets every
weight column that reads it, ``W_{input,v}[:, j]`` for every successor ``v``
of the input, to exactly zero and records ``j`` in ``meta["dropped_inputs"]``
(:attr:`genomes.Genome.dropped_inputs`). Then:

- ``genome.num_params()`` (and ``num_params("policy")``, ``macs``) no longer
  count those weights: a linear agent on ``k`` of ``n`` features has
  ``(k + 1) * actions`` policy parameters;
- ``validate()`` requires them to stay zero, compiled modules set feature
  ``j`` of every observation to 0 (so training gives those weights no gradient
  and leaves them at zero), and every operator's :func:`operators.base.finish`
  zeroes them in its child;
- the structural hash changes, so a search sees a new architecture.

The feature is dropped for the whole network, value head included, not only
for the nodes that feed the policy: a value-only node that reads ``j`` can
become a policy ancestor through ``add_skip`` or ``add_layer``, so "the policy
does not read ``j``" would not survive the exact operators.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from genomes import Genome
from operators.base import finish, input_batch, not_a_site, output_change, pick
from operators.checks import check_bool, check_int, check_rng


def drop_input_sites(genome: Genome) -> list[int]:
    """Input features the network still reads (not in ``genome.dropped_inputs``).

    >>> import genomes
    >>> drop_input_sites(genomes.minimal(3, 2))
    [0, 1, 2]
    """
    dropped = set(genome.dropped_inputs)
    return [j for j in range(genome.units(genome.input_node)) if j not in dropped]


def drop_input(
    genome: Genome,
    *,
    rng: np.random.Generator,
    feature: int | None = None,
    inputs: ArrayLike | None = None,
    compensate: bool = True,
) -> Genome:
    """Stop the network reading input feature ``j``: zero its weights and record it as dropped.

    Every weight column ``W_{input,v}[:, j]`` becomes 0 and ``j`` joins
    ``meta["dropped_inputs"]``, so those weights are no longer parameters.
    With ``compensate`` and given ``inputs``, each successor's bias absorbs
    the feature's mean contribution, ``b_v += W_{input,v}[:, j] * mean_b x_bj``
    (mean replacement, as in :func:`operators.prune_units`): a feature that is
    constant on the batch is dropped exactly. Without ``inputs`` the batch is
    standard normal, the mean taken is 0 (normalised observations) and
    nothing is folded. A feature whose weights are all zero already is dropped
    exactly either way.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the feature (if not given) and the default batch.
    feature : int, optional
        The site: an input feature index (>= 0) not dropped yet; random by default.
    inputs : array_like, optional
        Observations ``[batch, obs]`` for the compensation and the reported
        change; 64 standard-normal rows by default.
    compensate : bool
        Fold the feature's mean contribution on ``inputs`` into the biases.

    Returns
    -------
    Genome
        The child; preservation class ``lossy``. The measured change is in
        ``child.meta["lineage"]["params"]["output_change"]``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.minimal(4, 2)
    >>> child = drop_input(g, rng=np.random.default_rng(0), feature=3)
    >>> child.dropped_inputs, g.num_params("policy"), child.num_params("policy")
    ([3], 10, 8)
    >>> float(np.abs(child.graph.edges["input", "policy"]["weight"][:, 3]).max())
    0.0
    """
    what = "drop_input"
    check_rng(what, rng)
    compensate = check_bool(what, "compensate", compensate)
    if feature is None:
        j = int(pick(rng, drop_input_sites(genome), what))
    else:
        j = check_int(what, "feature", feature, minimum=0)
        n = genome.units(genome.input_node)
        if j >= n or j in genome.dropped_inputs:
            raise not_a_site(what, j, f"an input feature < {n} not in {genome.dropped_inputs}")
    x = input_batch(genome, rng, inputs, 64, what)
    mean = float(x[:, j].mean()) if compensate and inputs is not None else 0.0
    child = genome.copy()
    g = child.graph
    inp = child.input_node
    for v in g.successors(inp):
        w = g.edges[inp, v]["weight"]
        if mean:
            g.nodes[v]["bias"] = g.nodes[v]["bias"] + w[:, j] * mean
        w[:, j] = 0.0
    child.meta["dropped_inputs"] = sorted([*genome.dropped_inputs, j])
    params: dict[str, Any] = {"feature": j, "compensate": compensate, "mean": mean}
    params |= {"n_inputs": len(x), "inputs": "random" if inputs is None else "given"}
    params["output_change"] = output_change(genome, child, x)
    return finish(child, genome, rng, what, params)
