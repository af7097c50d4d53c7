"""Exceptions raised by the genome package."""

from __future__ import annotations


class GenomeError(Exception):
    """Base class for every error about a genome."""


class InvalidGenomeError(GenomeError, ValueError):
    """A genome breaks one of the structural rules checked by ``validate``."""


class CycleError(InvalidGenomeError):
    """The graph has a directed cycle."""


class DanglingEdgeError(InvalidGenomeError):
    """An edge points to or from a node that does not exist."""


class ShapeError(InvalidGenomeError):
    """A weight, bias or ``log_std`` has the wrong shape."""


class InputError(InvalidGenomeError):
    """There is not exactly one input node, or the input node has incoming edges."""


class HeadError(InvalidGenomeError):
    """A policy or value head is missing, duplicated or malformed."""


class ActivationError(InvalidGenomeError):
    """A node names an activation that is not registered."""


class KindError(InvalidGenomeError):
    """A node names a kind that is not registered."""


class NonFiniteError(InvalidGenomeError):
    """A weight, bias or ``log_std`` holds NaN or infinity."""


class UnreachableError(InvalidGenomeError):
    """A node is not on a path from the input to a head."""


class FormatError(GenomeError, ValueError):
    """A serialised genome cannot be read (bad JSON, missing field, unknown version)."""


class SpaceError(InvalidGenomeError):
    """The observation or action space description is missing or malformed."""
