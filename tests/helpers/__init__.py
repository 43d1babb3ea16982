"""What the tests share that is not a fixture (fixtures live in tests/conftest.py).

Recipe runners (recipes), hand-made inputs and independently computed expectations for
one area each (results, grid, external_checkpoints, languages, lm, ...), a fake sbatch and squeue
(slurm), and die_at.py, a script run by path that makes a recipe kill itself at a chosen point.
"""
