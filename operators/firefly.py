"""Firefly's guided growth step: build many candidates, score them by the loss, keep the best.

Candidates (all built at once in one augmented network, where none of them
changes the function yet):

- ``grow``: ``new_per_node`` new units in every hidden node, random incoming
  weights ``N(0, 1/fan_in)``, zero outgoing weights ``a``. First-order
  Taylor in the step: ``L(a) ~ L + <g, a>`` with ``g = dL/da``; the step
  ``a = -eps * g / ||g||`` lowers the loss by ``eps * ||g||`` (the score).
- ``layer``: on every edge ``u -> w`` a new node of ``layer_units`` units on the
  parallel path ``u -> new -> w`` with zero outgoing weight; scored and
  stepped like ``grow``.
- ``split``: every existing hidden unit ``j``, split into ``w_j ± split_eps *
  delta`` with halved outgoing weights (:func:`operators.split`). Its
  first-order term vanishes; the loss changes by ``split_eps**2 / 2 *
  delta^T S_j delta`` with the splitting matrix
  ``S_j = sum_b dL/dh_bj * act''(z_bj) x_b x_b^T`` (Liu et al., 2019;
  ``x_b`` = the unit's inputs and 1). ``delta`` is the eigenvector of the
  smallest eigenvalue ``lambda_j``; the score is ``split_eps**2 / 2 * max(0,
  -lambda_j)``.

Every score is the predicted loss decrease at the step actually applied, from
one forward and one backward pass of ``loss_fn`` on the augmented network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from genomes import Genome
from operators.base import (
    Array,
    NotApplicable,
    activation_of,
    append_units,
    delete_units,
    finish,
    fresh_name,
    init_weight,
)
from operators.checks import check_choice, check_float, check_int, check_rng
from operators.probe import ProbeNet
from operators.units import split_in_place

LossFn = Callable[[torch.nn.Module], torch.Tensor]
Kind = Literal["split", "grow", "layer"]
KINDS = ("split", "grow", "layer")


@dataclass
class Candidate:
    """One growth candidate and its score (predicted loss decrease)."""

    kind: Kind
    node: str
    index: int = -1
    source: str = ""
    score: float = 0.0
    direction: Array | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for the lineage."""
        d: dict[str, Any] = {"kind": self.kind, "node": self.node, "score": self.score}
        if self.kind == "layer":
            d["source"] = self.source
        elif self.index >= 0:
            d["unit"] = self.index
        return d


def _second_derivative(
    act: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor
) -> torch.Tensor:
    z = z.detach().clone().requires_grad_(True)
    (g1,) = torch.autograd.grad(act(z).sum(), z, create_graph=True)
    if not g1.requires_grad:
        return torch.zeros_like(z)
    (g2,) = torch.autograd.grad(g1.sum(), z, allow_unused=True)
    return torch.zeros_like(z) if g2 is None else g2.detach()


def _augment(
    genome: Genome,
    rng: np.random.Generator,
    kinds: Sequence[Kind],
    new_per_node: int,
    layer_units: int,
) -> tuple[Genome, list[Candidate]]:
    """The genome with every grow/layer candidate added at zero outgoing weight."""
    aug = genome.copy()
    g = aug.graph
    cands: list[Candidate] = []
    if "grow" in kinds and new_per_node > 0:
        for v in genome.hidden_nodes:
            preds = sorted(g.predecessors(v), key=str)
            full = init_weight(rng, new_per_node, sum(aug.units(u) for u in preds))
            incoming, col = {}, 0
            for u in preds:
                incoming[u] = full[:, col : col + aug.units(u)]
                col += aug.units(u)
            outgoing = {w: np.zeros((aug.units(w), new_per_node)) for w in g.successors(v)}
            n = aug.units(v)
            append_units(aug, v, incoming, np.zeros(new_per_node), outgoing)
            cands += [Candidate("grow", v, n + i) for i in range(new_per_node)]
    if "layer" in kinds:
        for u, w in sorted(genome.graph.edges, key=lambda e: (str(e[0]), str(e[1]))):
            ends = [x for x in (w, u) if genome.graph.nodes[x]["kind"] == "hidden"]
            act = activation_of(genome, ends[0]) if ends else "relu"
            d = fresh_name(aug)
            aug.add_node(d, kind="hidden", units=layer_units, activation=act)
            aug.add_edge(u, d, init_weight(rng, layer_units, aug.units(u)))
            aug.add_edge(d, w)
            cands.append(Candidate("layer", d, source=u))
    return aug, cands


def _split_candidates(genome: Genome, net: ProbeNet) -> list[Candidate]:
    out: list[Candidate] = []
    for v in genome.hidden_nodes:
        n = genome.units(v)
        preds = sorted(genome.graph.predecessors(v), key=str)
        grad_h = net.h[v].grad
        if grad_h is None:
            continue
        xs = [net.h[p][:, : genome.units(p)].detach() for p in preds]
        x = torch.cat([*xs, torch.ones_like(xs[0][:, :1])], dim=1).double()
        curv = _second_derivative(net.acts[v], net.z[v])[:, :n].double()
        weight = grad_h[:, :n].double() * curv
        s = torch.einsum("bj,bi,bk->jik", weight, x, x)
        vals, vecs = torch.linalg.eigh(s)
        for j in range(n):
            out.append(
                Candidate("split", v, j, score=float(-vals[j, 0]), direction=vecs[j, :, 0].numpy())
            )
    return out


def firefly_grow(
    genome: Genome,
    loss_fn: LossFn,
    *,
    rng: np.random.Generator,
    eps: float = 1e-2,
    split_eps: float = 0.1,
    k: int | None = None,
    fraction: float = 0.35,
    candidates: Sequence[Kind] = ("split", "grow", "layer"),
    new_per_node: int = 2,
    layer_units: int = 4,
    selection: Literal["score", "random"] = "score",
    dtype: torch.dtype = torch.float32,
) -> Genome:
    """Grow ``genome`` by the ``k`` candidates that lower ``loss_fn`` most (firefly descent).

    Parameters
    ----------
    genome : Genome
        The parent (not modified).
    loss_fn : callable
        ``loss_fn(module) -> scalar tensor``. ``module`` behaves like
        ``genome.compile()`` (``forward(obs) -> (policy_out, value)``,
        ``log_std``); it is a :class:`operators.ProbeNet` of the augmented
        network. Called once.
    rng : numpy.random.Generator
        Candidate weights (and the choice when ``selection="random"``).
    eps : float
        Step of the new units' and layers' outgoing weights.
    split_eps : float
        Step of the splits.
    k : int, optional
        Number of candidates kept (>= 1); by default ``max(1, round(fraction * n))``
        with ``n`` the parent's hidden units. Only candidates with a positive
        score are kept under ``selection="score"``.
    fraction : float
        See ``k`` (0.35 as in the firefly reference code).
    candidates : sequence of {"split", "grow", "layer"}
        Candidate kinds to consider (at least one).
    new_per_node, layer_units : int
        Candidate new units per hidden node (>= 0); width of a candidate
        layer (>= 1).
    selection : {"score", "random"}
        ``"random"`` keeps ``k`` candidates uniformly at random (same
        directions and steps): the baseline firefly is measured against.
    dtype : torch.dtype
        Dtype of the module given to ``loss_fn`` (``torch.float32`` or ``torch.float64``).

    Returns
    -------
    Genome
        The grown child; its lineage params list the kept candidates and scores.

    Raises
    ------
    NotApplicable
        When the genome offers no candidate of the requested kinds (e.g.
        ``candidates=("split", "grow")`` and no hidden node).
    ValueError
        When an argument is malformed (``eps < 0``, an unknown kind, ...).

    Examples
    --------
    >>> import numpy as np, torch, genomes
    >>> g = genomes.mlp(3, 2, hidden=[4], shared=True)
    >>> x, y = torch.randn(32, 3), torch.randn(32, 2)
    >>> loss = lambda m: ((m(x)[0] - y) ** 2).mean()
    >>> child = firefly_grow(g, loss, rng=np.random.default_rng(0), k=2)
    >>> len(child.meta["lineage"]["params"]["chosen"])
    2
    """
    what = "firefly_grow"
    check_rng(what, rng)
    if not callable(loss_fn):
        raise ValueError(f"{what}: expected loss_fn to be callable (got {loss_fn!r:.60})")
    eps = check_float(what, "eps", eps, minimum=0.0)
    split_eps = check_float(what, "split_eps", split_eps, minimum=0.0)
    if k is not None:
        k = check_int(what, "k", k, minimum=1)
    fraction = check_float(what, "fraction", fraction, minimum=0.0)
    if isinstance(candidates, str) or not candidates:
        raise ValueError(f"{what}: expected candidates to be a non-empty sequence of kinds")
    for kind in candidates:
        check_choice(what, "candidates", kind, KINDS)
    new_per_node = check_int(what, "new_per_node", new_per_node, minimum=0)
    layer_units = check_int(what, "layer_units", layer_units, minimum=1)
    check_choice(what, "selection", selection, ("score", "random"))
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"{what}: expected dtype torch.float32 or torch.float64 (got {dtype})")
    has_hidden = bool(genome.hidden_nodes)
    if not ("layer" in candidates or (has_hidden and ({"split", "grow"} & set(candidates)))):
        raise NotApplicable(f"{what}: no site fits this genome (no hidden node for {candidates})")
    aug, cands = _augment(genome, rng, candidates, new_per_node, layer_units)
    net = ProbeNet(aug, dtype)
    loss = loss_fn(net)
    loss.backward()  # type: ignore[no-untyped-call]
    for c in cands:
        grads = []
        for w in sorted(aug.graph.successors(c.node), key=str):
            p = net.weight(c.node, w)
            gr = p.grad.double().numpy() if p.grad is not None else np.zeros(tuple(p.shape))
            grads.append(gr[:, c.index] if c.kind == "grow" else gr.ravel())
        vec = np.concatenate(grads)
        norm = float(np.linalg.norm(vec))
        c.score = eps * norm
        c.direction = -vec / norm if norm > 0 else vec
    if "split" in candidates:
        for c in _split_candidates(genome, net):
            c.score = 0.5 * split_eps**2 * max(0.0, c.score)
            cands.append(c)
    n_hidden = sum(genome.units(v) for v in genome.hidden_nodes)
    k = max(1, round(fraction * n_hidden)) if k is None else k
    if selection == "random":
        drawn = rng.choice(len(cands), size=min(k, len(cands)), replace=False)
        chosen = [cands[int(i)] for i in sorted(drawn)]
    else:
        ranked = sorted((c for c in cands if c.score > 0), key=lambda c: -c.score)
        chosen = ranked[:k]
    child = _apply(genome, aug, cands, chosen, eps, split_eps)
    params = {
        "eps": eps,
        "split_eps": split_eps,
        "k": k,
        "selection": selection,
        "n_candidates": len(cands),
        "chosen": [c.describe() for c in chosen],
        "predicted_decrease": float(sum(c.score for c in chosen)),
    }
    return finish(child, genome, rng, what, params)


def _apply(
    parent: Genome,
    aug: Genome,
    cands: list[Candidate],
    chosen: list[Candidate],
    eps: float,
    split_eps: float,
) -> Genome:
    """Keep the chosen candidates of ``aug`` (stepped) and drop the rest."""
    child = aug.copy()
    g = child.graph
    keep = {id(c) for c in chosen}
    drop_units: dict[str, list[int]] = {}
    for c in cands:
        if c.kind == "split":
            continue
        succs = sorted(g.successors(c.node), key=str)
        if id(c) not in keep:
            if c.kind == "grow":
                drop_units.setdefault(c.node, []).append(c.index)
            else:
                g.remove_node(c.node)
            continue
        assert c.direction is not None
        col = 0
        for w in succs:
            rows = child.units(w)
            if c.kind == "grow":
                g.edges[c.node, w]["weight"][:, c.index] = eps * c.direction[col : col + rows]
                col += rows
            else:
                shape = g.edges[c.node, w]["weight"].shape
                size = shape[0] * shape[1]
                g.edges[c.node, w]["weight"] = eps * c.direction[col : col + size].reshape(shape)
                col += size
    for v, idx in drop_units.items():
        delete_units(child, v, idx)
    for c in chosen:
        if c.kind == "split":
            assert c.direction is not None
            delta = _pad_direction(parent, child, c.node, c.direction)
            split_in_place(child, c.node, c.index, split_eps, delta)
    return child


def _pad_direction(parent: Genome, child: Genome, node: str, direction: Array) -> Array:
    """Map a split direction over the parent's inputs of ``node`` onto the child's.

    Inputs the parent did not have (new units of a predecessor, new
    predecessors) get zero entries.
    """
    parts, col = {}, 0
    for p in sorted(parent.graph.predecessors(node), key=str):
        parts[p] = direction[col : col + parent.units(p)]
        col += parent.units(p)
    out = []
    for p in sorted(child.graph.predecessors(node), key=str):
        piece = np.zeros(child.units(p))
        if p in parts:
            piece[: len(parts[p])] = parts[p]
        out.append(piece)
    return np.concatenate([*out, direction[col:]])
