"""`python -m blobs_transfer` runs the command line."""

from .cli import main

main()
