"""blobs-transfer: the Keras blobs transfer-learning study, reproduced fast and with honest statistics.

Pipeline: problems -> models -> arms -> engine -> experiment -> stats -> plots -> results -> cli.
"""

__version__ = "0.1.0"
