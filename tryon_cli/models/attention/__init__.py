"""DPIDM's attention (paper 3.4): PASA (`pasa.py`), TSA (`tsa.py`), PATA (`pata.py`) and the backend that runs them."""
