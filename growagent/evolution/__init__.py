"""The DEAP side of the search: the toolbox, the generational loop and the run session."""
