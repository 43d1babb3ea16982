"""The study at scale: every language x encoder x seed run, on one machine or a SLURM cluster.

A grid run is identified by (language, encoder, seed), under a protocol and
with the registry's weights unless a source replaces them, and lives in the
recipe's own output folder, results_root/<lang>/<run name>/seed_<seed>/
(crossling_asr.run_layout). What
the grid knows about a run it reads from that folder (results.json, a lock
file with a heartbeat, the record of the last attempt), so any number of grid
processes, on any number of hosts, can share one results root.

Modules: runs (the grid and each run's state on disk), claim (exclusive,
heartbeated ownership of a run), job (the command lines and the manifest a
grid submission is described by), prep (data preparation once per language),
worker (one run or one preparation: the unit both executors launch), local
and slurm (the two executors), cost (GPU-hours estimate), released (the
study's released checkpoints as runs that evaluate them instead of training).
"""
