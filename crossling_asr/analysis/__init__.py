"""From the runs' results.json files to the study's tables, statistics, figures and report.

aggregate: every results.json in one checked table, means and stds over seeds;
stats: the statistics of the study's three findings; typology: the
languages' names, ISO codes and families (from results.json, else the
recipes' yamls) and the cached URIEL distances; probing: frozen-encoder
probes against fine-tuning (rankings, cost, layer weights); reproduction: the
study's released checkpoints against the runs trained here; figures and
probe_figures: the plots; report: one Markdown report with all of it
(local/report.py); recipe_readmes: the results table of each recipe's
README.md (local/report.py --update-recipe-readmes).
"""
