"""`python -m blobs_transfer` runs the command line."""

from blobs_transfer.cli import main

main()
