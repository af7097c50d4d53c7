"""genomes: graph genomes for actor-critic and plain feed-forward networks.

A :class:`Genome` is a networkx DAG of unit groups with weights: an
actor-critic agent (:func:`mlp`, :func:`minimal`: a policy and a value head)
or a plain network with one output head (:func:`network`,
:func:`from_sequential`), for NAS outside RL. This package
depends on networkx, NumPy and torch only (``draw`` imports matplotlib and
``to_pyg`` imports torch_geometric when called), so other NAS projects can
reuse it. ``genomes.testing.random_genome`` draws random valid genomes for
tests.

    >>> import genomes
    >>> g = genomes.mlp(4, 2, hidden=[16])
    >>> g.validate() is g
    True
    >>> genomes.network(3, 1, hidden=[16]).is_plain
    True
"""

from genomes.compile import GenomeModule, compile_genome, weights_from_module
from genomes.draw import draw
from genomes.errors import (
    ActivationError,
    CycleError,
    DanglingEdgeError,
    FormatError,
    GenomeError,
    HeadError,
    InputError,
    InvalidGenomeError,
    KindError,
    NonFiniteError,
    ShapeError,
    SpaceError,
    UnreachableError,
)
from genomes.factories import minimal, mlp, network, reinitialised
from genomes.genome import FORMAT_VERSION, Genome
from genomes.inspect import macs, num_params, structural_hash, summary
from genomes.io import dumps, from_dict, load, loads, save, to_dict, to_node_link, write_graphml
from genomes.pyg import to_pyg
from genomes.registry import ACTIVATIONS, KINDS
from genomes.sequential import from_sequential

__all__ = [
    "ACTIVATIONS",
    "FORMAT_VERSION",
    "KINDS",
    "ActivationError",
    "CycleError",
    "DanglingEdgeError",
    "FormatError",
    "Genome",
    "GenomeError",
    "GenomeModule",
    "HeadError",
    "InputError",
    "InvalidGenomeError",
    "KindError",
    "NonFiniteError",
    "ShapeError",
    "SpaceError",
    "UnreachableError",
    "compile_genome",
    "draw",
    "dumps",
    "from_dict",
    "from_sequential",
    "load",
    "loads",
    "macs",
    "minimal",
    "mlp",
    "network",
    "num_params",
    "reinitialised",
    "save",
    "structural_hash",
    "summary",
    "to_dict",
    "to_node_link",
    "to_pyg",
    "weights_from_module",
    "write_graphml",
]
