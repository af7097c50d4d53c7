"""Lossy operators that shrink a genome: ``prune_units`` and ``remove_node``.

Both measure what they change. They run the parent and the child on a batch
of observations (``inputs``; by default standard-normal observations drawn
from ``rng``, which match observations normalised by running statistics) and
write ``{"max_abs", "rms", "rel"}`` of the output difference (policy output and
value together, float64) to ``child.meta["lineage"]["params"]["output_change"]``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

from genomes import Genome
from operators.base import (
    Array,
    delete_units,
    finish,
    input_batch,
    is_kind,
    not_a_site,
    output_change,
    pick,
    zero_dropped_inputs,
)
from operators.checks import check_bool, check_choice, check_int, check_name, check_rng
from operators.probe import ProbeNet

Criterion = Literal["magnitude", "taylor"]
CRITERIA = ("magnitude", "taylor")
BRIDGES = ("lstsq", "linear")


def prune_sites(genome: Genome) -> list[str]:
    """Hidden nodes with at least two units.

    >>> import genomes
    >>> prune_sites(genomes.mlp(3, 2, hidden=[1, 2], shared=True))
    ['h1']
    """
    return [v for v in genome.hidden_nodes if genome.units(v) > 1]


def unit_importance(
    genome: Genome, node: str, inputs: Array, criterion: Criterion = "taylor"
) -> Array:
    """Importance of each unit of ``node`` (larger = keep).

    ``magnitude``: ``||[W_in[j], b_j]|| * ||W_out[:, j]||`` over all incoming
    and outgoing edges. ``taylor``: first-order Taylor estimate of the output
    change when unit ``j`` is replaced by its batch mean,
    ``mean_b sum_k ((h_bj - mean(h_j)) * d y_bk / d h_bj)**2`` over the
    policy and value outputs ``y`` (the one output of a plain network).

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> unit_importance(g, "h0", np.ones((5, 3))).shape
    (4,)
    """
    check_choice("unit_importance", "criterion", criterion, CRITERIA)
    g = genome.graph
    if criterion == "magnitude":
        rows = [g.edges[u, node]["weight"] for u in g.predecessors(node)]
        w_in = np.hstack([*rows, g.nodes[node]["bias"][:, None]])
        w_out = np.vstack([g.edges[node, w]["weight"] for w in g.successors(node)])
        return np.asarray(np.linalg.norm(w_in, axis=1) * np.linalg.norm(w_out, axis=0))
    net = ProbeNet(genome, torch.float64)
    pol, val = net(torch.as_tensor(inputs))
    y = pol if val is None else torch.cat([pol, val[:, None]], dim=1)
    h = net.h[node]
    centred = (h - h.mean(dim=0)).detach()
    score = torch.zeros(h.shape[1], dtype=torch.float64)
    for k in range(y.shape[1]):
        (grad,) = torch.autograd.grad(y[:, k].sum(), h, retain_graph=True)
        score += ((centred * grad) ** 2).mean(dim=0)
    return np.asarray(score.numpy(), dtype=np.float64)


def prune_units(
    genome: Genome,
    *,
    rng: np.random.Generator,
    node: str | None = None,
    units: int = 1,
    criterion: Criterion = "taylor",
    inputs: ArrayLike | None = None,
    compensate: bool = True,
) -> Genome:
    """Remove the ``units`` least important units of a hidden node (at least one stays).

    With ``compensate`` the removed units' mean contribution on the batch,
    ``W_vw[:, j] * mean_b h_bj``, is folded into each successor's bias (mean
    replacement), so a unit that is constant on the batch is removed exactly.

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the node (if not given) and the default batch.
    node : str, optional
        The site: a hidden node with at least two units; random by default.
    units : int
        How many units to remove (>= 1; capped at ``units(node) - 1``).
    criterion : {"taylor", "magnitude"}
        See :func:`unit_importance`.
    inputs : array_like, optional
        Observations ``[batch, obs]`` for the importance, the compensation and
        the reported change; 64 standard-normal rows by default.
    compensate : bool
        Fold the removed units' mean into the successors' biases.

    Returns
    -------
    Genome
        The child; preservation class ``lossy``. The measured change is in
        ``child.meta["lineage"]["params"]["output_change"]``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4])
    >>> child = prune_units(g, rng=np.random.default_rng(0), node="h0", units=2)
    >>> child.units("h0"), sorted(child.meta["lineage"]["params"]["output_change"])
    (2, ['max_abs', 'rel', 'rms'])
    """
    what = "prune_units"
    check_rng(what, rng)
    units = check_int(what, "units", units, minimum=1)
    check_choice(what, "criterion", criterion, CRITERIA)
    compensate = check_bool(what, "compensate", compensate)
    if node is None:
        v = str(pick(rng, prune_sites(genome), what))
    else:
        v = check_name(what, "node", node)
        if not (is_kind(genome, v, "hidden") and genome.units(v) > 1):
            raise not_a_site(what, v, "a hidden node with at least two units")
    n = genome.units(v)
    count = min(units, n - 1)
    x = input_batch(genome, rng, inputs, 64, what)
    score = unit_importance(genome, v, x, criterion)
    drop = np.sort(np.argsort(score, kind="stable")[:count])
    child = genome.copy()
    g = child.graph
    if compensate:
        net = ProbeNet(genome, torch.float64)
        with torch.no_grad():
            net(torch.as_tensor(x))
        mean_h = net.h[v].mean(dim=0).numpy()[drop]
        for w in g.successors(v):
            g.nodes[w]["bias"] = g.nodes[w]["bias"] + g.edges[v, w]["weight"][:, drop] @ mean_h
    delete_units(child, v, drop.tolist())
    params: dict[str, Any] = {"node": v, "units": count, "removed": drop.tolist()}
    params |= {"criterion": criterion, "compensate": compensate, "n_inputs": len(x)}
    params["inputs"] = "random" if inputs is None else "given"
    params["output_change"] = output_change(genome, child, x)
    return finish(child, genome, rng, what, params)


def remove_node_sites(genome: Genome) -> list[str]:
    """Hidden nodes.

    >>> import genomes
    >>> remove_node_sites(genomes.mlp(3, 2, hidden=[4], shared=True))
    ['h0']
    """
    return list(genome.hidden_nodes)


def remove_node(
    genome: Genome,
    *,
    rng: np.random.Generator,
    node: str | None = None,
    inputs: ArrayLike | None = None,
    bridge: Literal["lstsq", "linear"] = "lstsq",
) -> Genome:
    """N2N-style removal of a hidden node ``v``, bridging its inputs to its outputs.

    ``v``'s output is replaced by an affine map of its predecessors' outputs,
    ``h_v ~ sum_p M_p @ h_p + c``, and every successor ``s`` receives it
    directly: ``W_ps += W_vs @ M_p`` (new edges where needed) and
    ``b_s += W_vs @ c``. ``bridge="linear"`` takes ``M_p = W_pv``, ``c = b_v``
    (exact when ``v``'s activation is the identity); ``"lstsq"`` fits ``M``
    and ``c`` by ridge least squares on the batch (exact for identity
    too, the best affine bridge on the batch otherwise).

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    rng : numpy.random.Generator
        Chooses the node (if not given) and the default batch.
    node : str, optional
        The site: a hidden node; random by default.
    inputs : array_like, optional
        Observations for the fit and the reported change; by default
        ``max(64, 2 * (fan_in + 1))`` standard-normal rows.
    bridge : {"lstsq", "linear"}
        How the bridge is computed.

    Returns
    -------
    Genome
        The child; preservation class ``lossy``; the measured change is in
        ``child.meta["lineage"]["params"]["output_change"]``.

    Examples
    --------
    >>> import numpy as np, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4, 4], shared=True)
    >>> child = remove_node(g, rng=np.random.default_rng(0), node="h1")
    >>> child.hidden_nodes, sorted(child.graph.successors("h0"))
    (['h0'], ['policy', 'value'])
    """
    what = "remove_node"
    check_rng(what, rng)
    check_choice(what, "bridge", bridge, BRIDGES)
    if node is None:
        v = str(pick(rng, remove_node_sites(genome), what))
    else:
        v = check_name(what, "node", node)
        if not is_kind(genome, v, "hidden"):
            raise not_a_site(what, v, "a hidden node")
    g0 = genome.graph
    preds = sorted(g0.predecessors(v), key=str)
    fan = sum(genome.units(p) for p in preds)
    x = input_batch(genome, rng, inputs, max(64, 2 * (fan + 1)), what)
    if bridge == "linear":
        m = np.vstack([g0.edges[p, v]["weight"].T for p in preds] + [g0.nodes[v]["bias"][None, :]])
    else:
        # ProbeNet reads dropped input features as 0, so the fit gives them zero weight.
        net = ProbeNet(genome, torch.float64)
        with torch.no_grad():
            net(torch.as_tensor(x))
        a = np.hstack([net.h[p].numpy() for p in preds] + [np.ones((len(x), 1))])
        t = net.h[v].numpy()
        gram = a.T @ a
        ridge = 1e-10 * max(float(np.trace(gram)) / len(gram), 1e-12)
        m = np.linalg.solve(gram + ridge * np.eye(len(gram)), a.T @ t)
    child = genome.copy()
    g = child.graph
    succs = sorted(g.successors(v), key=str)
    for s in succs:
        w_vs = g.edges[v, s]["weight"]
        row = 0
        for p in preds:
            size = child.units(p)
            add = w_vs @ m[row : row + size].T
            row += size
            if g.has_edge(p, s):
                g.edges[p, s]["weight"] = g.edges[p, s]["weight"] + add
            else:
                child.add_edge(p, s, add)
        g.nodes[s]["bias"] = g.nodes[s]["bias"] + w_vs @ m[row]
    g.remove_node(v)
    zero_dropped_inputs(child)  # before measuring (the lstsq fit already gives them 0)
    params: dict[str, Any] = {"node": v, "bridge": bridge, "n_inputs": len(x)}
    params["inputs"] = "random" if inputs is None else "given"
    params["output_change"] = output_change(genome, child, x)
    return finish(child, genome, rng, what, params)
