"""python -m backprop_lab: the same as the `backprop-lab` command."""

from backprop_lab.cli import main

raise SystemExit(main())
