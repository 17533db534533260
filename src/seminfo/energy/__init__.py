"""The autoregressive LLM as an energy-based model.

* :mod:`.boltzmann`: each next-token distribution as a Boltzmann law at temperature T (free energy,
  mean energy, entropy, heat capacity; temperature sweeps).
* :mod:`.hopfield`: attention as a modern Hopfield network (the energy of each head's query before
  and after one update) and the one-step memory capacity of modern and classical Hopfield networks.

torch is imported only inside the functions that read real models.
"""

from .boltzmann import DEFAULT_TEMPERATURES, BoltzmannResult, boltzmann, boltzmann_stats
from .hopfield import (CLASSICAL_CAPACITY, CapacityCurve, HopfieldDescent, RetrievalShare, hopfield_capacity,
                       hopfield_descent, hopfield_energy, hopfield_retrieval, hopfield_update,
                       ramsauer_capacity_bound)

__all__ = ["DEFAULT_TEMPERATURES", "BoltzmannResult", "boltzmann", "boltzmann_stats", "CLASSICAL_CAPACITY",
           "CapacityCurve", "HopfieldDescent", "RetrievalShare", "hopfield_capacity", "hopfield_descent",
           "hopfield_energy", "hopfield_retrieval", "hopfield_update", "ramsauer_capacity_bound"]
