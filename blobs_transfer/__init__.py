"""blobs-transfer: the Keras blobs transfer-learning study, reproduced fast and with honest statistics.

Pipeline: config -> problems -> arms -> engine / models -> experiment -> analysis (stats) -> report / plots ->
results (files) -> study (the library API) -> cli (a thin layer over `study`).
"""

__version__ = "0.1.0"
