"""From the runs' results.json files to the study's tables, statistics, figures and report.

aggregate: every results.json in one checked table, means and stds over seeds;
stats: the statistics of the study's three findings; typology: language
families, ISO codes and the cached URIEL distances; figures: the plots;
report: one Markdown report with all of it (local/report.py).
"""
