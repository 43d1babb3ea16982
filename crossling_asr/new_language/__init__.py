"""Scaffolding the recipe of another Common Voice language (`local/new_language.py`).

alphabet: the alphabet, from CLDR's letters of the language completed by the
sample sentences (or from the sentences alone where CLDR does not know it);
text_rules: the text rules a sample of sentences calls for (script, alphabet,
word-internal punctuation, case and char maps); variants: spellings a
language writes two ways, unified in its word_map; facts: the language's name,
ISO 639-3 code and family; voices: the espeak-ng voice of the synthetic
corpus; recipe_yaml and recipe_readme: the texts of hparams/<code>.yaml and
README.md; scaffold: all of it, written as recipes/<code>/.
"""
