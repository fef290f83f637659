"""Judging's pure core (issue #21, docs/judging.md): built-in checkers, diffs, testlib's exit
codes, and scoring. No I/O: the runner that will run a judgement's tests calls these."""
