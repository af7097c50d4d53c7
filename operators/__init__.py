"""operators: function-preserving and pruning transforms of a genome."""
